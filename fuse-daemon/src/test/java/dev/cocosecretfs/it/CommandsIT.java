// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commands on good input, as the README's Commands section describes them: what {@code pack}
 * writes, from text and from a file, is what {@code mount} serves, byte for byte; {@code rm} zeroes
 * exactly the GUID and the data where pack laid them out and logs the GUID, never the secret; the
 * next mount serves the rest and {@code inspect} shows the entry wiped; SIGTERM unmounts and exits 0.
 * Bad input is {@link BadInputIT}'s; who may read, delete or write is {@link PermissionsIT}'s; odd
 * offsets and reads are {@link HostileCallersIT}'s.
 */
@DisplayName("pack, mount and inspect on good input")
class CommandsIT {
    static final String LUKS = "736869e5-84f0-4973-92ec-06879ce3da0b";
    static final String BUNDLE = "e6f5a162-d67f-4750-a67c-5d065f2a9910";
    static final String KBS = "1ee27366-0c87-43a6-af48-28543eaf7cb0";
    static final String LUKS_TEXT = "correct horse battery staple";
    static final String BUNDLE_TEXT = "{\"kid-1\":\"q83vEjRWeJA=\"}";

    @TempDir
    Path tmp;

    Path page;
    Path mnt;
    byte[] binary;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        binary = new byte[256];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) i;
        }
        Path bin = tmp.resolve("kbs.bin");
        Files.write(bin, binary);
        page = tmp.resolve("page.bin");
        Result packed = CocoDaemon.run("pack", "--out", page.toString(),
                LUKS + "=" + LUKS_TEXT, BUNDLE + "=" + BUNDLE_TEXT, KBS + "=@" + bin);
        assertThat(packed.exit()).as(packed.err()).isZero();
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    /** Offsets of the three entries as pack lays them out, in argument order. */
    long entryOffset(String guid) {
        long luks = 20;
        long bundle = luks + 20 + LUKS_TEXT.length();
        long kbs = bundle + 20 + BUNDLE_TEXT.length();
        return switch (guid) {
            case LUKS -> luks;
            case BUNDLE -> bundle;
            default -> kbs;
        };
    }

    @Test
    @DisplayName("mount serves what pack wrote, from text and from a file: names, sizes, bytes; SIGTERM unmounts, exit 0")
    void servesWhatPackWrote() throws Exception {
        CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt);
        try {
            assertThat(m.log()).contains("mounted 3 secrets from " + page);
            try (var names = Files.list(mnt)) {
                assertThat(names.map(p -> p.getFileName().toString()).sorted()).containsExactly(KBS, LUKS, BUNDLE);
            }
            assertThat(Files.size(mnt.resolve(LUKS))).isEqualTo(LUKS_TEXT.length());
            assertThat(Files.size(mnt.resolve(KBS))).isEqualTo(256);
            assertThat(Files.readString(mnt.resolve(LUKS))).isEqualTo(LUKS_TEXT);
            assertThat(Files.readString(mnt.resolve(BUNDLE))).isEqualTo(BUNDLE_TEXT);
            assertThat(Files.readAllBytes(mnt.resolve(KBS))).isEqualTo(binary);
            assertThat(m.stop()).isZero();
            assertThat(MountTable.at(mnt.toRealPath())).isEmpty();
            assertThat(m.log()).contains("unmounted " + mnt.toRealPath());
        } finally {
            m.close();
        }
    }

    @Test
    @DisplayName("rm zeroes exactly the GUID and the data and logs the GUID, not the secret; the next mount and inspect agree")
    void unlinkZeroesExactlyDataAndGuidAndTheRestSurvivesARemount() throws Exception {
        byte[] before = Files.readAllBytes(page);
        try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
            Files.delete(mnt.resolve(BUNDLE));
            assertThat(Files.exists(mnt.resolve(BUNDLE))).isFalse();
            assertThat(m.awaitLog("wiped secret " + BUNDLE)).doesNotContain(BUNDLE_TEXT);
            assertThat(m.stop()).isZero();
        }
        byte[] after = Files.readAllBytes(page);
        long entry = entryOffset(BUNDLE);
        for (int i = 0; i < before.length; i++) {
            boolean guid = i >= entry && i < entry + 16;
            boolean data = i >= entry + 20 && i < entry + 20 + BUNDLE_TEXT.length();
            assertThat(after[i]).as("byte %d", i).isEqualTo(guid || data ? 0 : before[i]);
        }
        try (CocoDaemon m = CocoDaemon.mount(CocoDaemon.Start.QUICK, page, mnt)) {
            try (var names = Files.list(mnt)) {
                assertThat(names.map(p -> p.getFileName().toString()).sorted()).containsExactly(KBS, LUKS);
            }
            assertThat(Files.readString(mnt.resolve(LUKS))).isEqualTo(LUKS_TEXT);
        }
        Result inspect = CocoDaemon.run("inspect", page.toString());
        assertThat(inspect.out()).containsPattern("\\b" + entry + " +00000000-0000-0000-0000-000000000000 +"
                + BUNDLE_TEXT.length() + " +wiped");
    }
}
