// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.FuseMount;
import dev.cocosecretfs.fuse.Ownership;
import dev.cocosecretfs.fuse.SecretFs;
import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.Out;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * direct_io keeps reads out of the page cache, but a private mapping of a secret is served through
 * it (the kernel's fuse_file_mmap). Here a secret is mapped privately and read through the mapping:
 * mincore(2) shows its pages in the page cache (the control: the problem exists); once the secret is
 * deleted, while the mapping and its descriptor are still open, mincore shows none of them.
 *
 * <p>What it proves: the kernel has dropped the file's pages from the page cache and from the
 * mapping when the wipe is answered. It does not prove the freed memory was overwritten: that takes
 * {@code init_on_free=1} on the kernel's command line (README). The mapping is not touched after the
 * deletion: a fault there is answered with EIO (the mapping had part of the secret), a SIGBUS that
 * would end this JVM.
 */
@DisplayName("a private mapping's pages leave the page cache when the secret is deleted")
class PageCacheIT {
    private static final int PAGE = 4096;
    private static final int PAGES = 16;

    /** The calls the test makes on a mapping, bound here (Sys has none of them). */
    public interface Mapping {
        Mapping C = LibraryLoader.create(Mapping.class).load("c");
        int PROT_READ = 1;
        int MAP_PRIVATE = 2;

        Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

        int munmap(Pointer addr, long length);

        int mincore(Pointer addr, long length, @Out byte[] vec);
    }

    @TempDir
    Path tmp;

    @Test
    void mappedPagesDropAtTheWipe() throws Exception {
        CocoDaemon.assumeFuse();
        SecretPage page = SecretPage.randomLengths(1, PAGES * PAGE, PAGES * PAGE, (PAGES + 2) * PAGE);
        Path file = page.write(tmp.resolve("page.bin"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        try (BackingStore store = Stores.open(file)) {
            FuseMount mount = FuseMount.mount(new SecretFs(SecretDirectory.open(store), Ownership.DEFAULT), mnt, false);
            try {
                Path secret = mnt.resolve(page.names.get(0));
                int fd = Sys.C.open(Sys.path(secret.toString()), Sys.O_RDONLY, 0);
                assertThat(fd).isNotNegative();
                long length = (long) PAGES * PAGE;
                Pointer map = Mapping.C.mmap(null, length, Mapping.PROT_READ, Mapping.MAP_PRIVATE, fd, 0);
                assertThat(map.address()).as("mmap").isNotEqualTo(-1L);
                try {
                    byte[] read = new byte[(int) length];
                    map.get(0, read, 0, read.length); // faults every page in, through the daemon
                    assertThat(Arrays.equals(read, page.secrets.get(0))).as("the mapping holds the secret").isTrue();
                    Arrays.fill(read, (byte) 0);
                    assertThat(resident(map, length)).as("pages of the mapping in the page cache (control)")
                            .isEqualTo(PAGES);

                    Files.delete(secret);

                    assertThat(resident(map, length)).as("pages in the page cache after the deletion").isZero();
                } finally {
                    Mapping.C.munmap(map, length);
                    Sys.C.close(fd);
                }
            } finally {
                mount.unmount();
            }
        }
        page.checkOnlyWiped(Files.readAllBytes(file), Set.of(0));
    }

    private static int resident(Pointer map, long length) {
        byte[] vec = new byte[(int) (length / PAGE)];
        int rc = Mapping.C.mincore(map, length, vec);
        assertThat(rc).as("mincore, errno %d", Runtime.getRuntime(Mapping.C).getLastError()).isZero();
        int n = 0;
        for (byte b : vec) {
            n += b & 1;
        }
        return n;
    }
}
