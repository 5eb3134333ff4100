// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.Struct;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import ru.serce.jnrfuse.struct.FuseBufvec;
import ru.serce.jnrfuse.struct.FuseFileInfo;

/** The offsets the read path writes by hand land where jnr-fuse's mapping of libfuse2 puts the fields. */
class FuseStructsTest {
    private final Runtime runtime = Runtime.getSystemRuntime();

    @Test
    @DisplayName("fuse_file_info: flags and fh")
    void fileInfo() {
        Pointer memory = Memory.allocateDirect(runtime, 64);
        FuseFileInfo fi = FuseFileInfo.of(memory);
        assertThat(Struct.size(fi)).isEqualTo(40);
        fi.flags.set(0x8241);
        fi.fh.set(0x0102030405060708L);

        assertThat(memory.getInt(FuseStructs.FI_FLAGS)).isEqualTo(0x8241);
        assertThat(memory.getLong(FuseStructs.FI_FH)).isEqualTo(0x0102030405060708L);
    }

    @Test
    @DisplayName("fuse_bufvec with its one fuse_buf: every field and the size")
    void bufvec() {
        assertThat((long) Struct.size(new FuseBufvec(runtime))).isEqualTo(FuseStructs.BUFVEC_BYTES);
        Pointer memory = Memory.allocateDirect(runtime, FuseStructs.BUFVEC_BYTES);
        memory.setMemory(0, FuseStructs.BUFVEC_BYTES, (byte) 0x5a);
        FuseBufvec vector = FuseBufvec.of(memory);
        FuseBufvec.init(vector, 77); // count 1, idx 0, off 0, buf[0]: size 77, flags 0, mem NULL, fd -1, pos 0
        vector.buf.mem.set(Pointer.wrap(runtime, 0x1122334455667788L));
        vector.buf.pos.set(0x99);

        long buf = FuseStructs.BUFVEC_BUF;
        assertThat(memory.getLong(FuseStructs.BUFVEC_COUNT)).isEqualTo(1);
        assertThat(memory.getLong(FuseStructs.BUFVEC_IDX)).isZero();
        assertThat(memory.getLong(FuseStructs.BUFVEC_OFF)).isZero();
        assertThat(memory.getLong(buf + FuseStructs.BUF_SIZE)).isEqualTo(77);
        assertThat(memory.getInt(buf + FuseStructs.BUF_FLAGS)).isZero();
        assertThat(memory.getAddress(buf + FuseStructs.BUF_MEM)).isEqualTo(0x1122334455667788L);
        assertThat(memory.getInt(buf + FuseStructs.BUF_FD)).isEqualTo(-1);
        assertThat(memory.getLong(buf + FuseStructs.BUF_POS)).isEqualTo(0x99);
    }
}
