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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * NAME_MAX counts bytes: a name of multibyte characters over 255 bytes is too long even when it has
 * fewer than 255 characters (the kernel passes names of up to 1,024 bytes on to the daemon), and a
 * name of 255 bytes that are not UTF-8 is not, whatever a decoder makes of it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@DisplayName("names are measured in bytes against NAME_MAX")
class NameLengthIT {
    private Path tmp;
    private FuseMount mount;
    private BackingStore store;
    private Path mnt;

    @BeforeAll
    void mount() throws Exception {
        CocoDaemon.assumeFuse();
        tmp = Files.createTempDirectory("name-length");
        SecretPage page = SecretPage.random(1, 32, 4096);
        Path file = page.write(tmp.resolve("page.bin"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        store = Stores.open(file);
        mount = FuseMount.mount(new SecretFs(SecretDirectory.open(store), Ownership.DEFAULT), mnt, false);
    }

    @AfterAll
    void unmount() throws Exception {
        if (mount != null) {
            mount.unmount();
        }
        if (store != null) {
            store.close();
        }
        if (tmp != null) {
            try (Stream<Path> files = Files.walk(tmp)) {
                files.sorted((a, b) -> b.compareTo(a)).forEach(p -> p.toFile().delete());
            }
        }
    }

    static Stream<Arguments> names() {
        byte[] ff = new byte[255];
        Arrays.fill(ff, (byte) 0xff);
        return Stream.of(
                Arguments.of("128 two-byte characters, 256 bytes", "é".repeat(128).getBytes(StandardCharsets.UTF_8),
                        Sys.ENAMETOOLONG),
                Arguments.of("255 three-byte characters, 765 bytes", "€".repeat(255).getBytes(StandardCharsets.UTF_8),
                        Sys.ENAMETOOLONG),
                Arguments.of("127 four-byte characters, 508 bytes", "😀".repeat(127).getBytes(StandardCharsets.UTF_8),
                        Sys.ENAMETOOLONG),
                Arguments.of("252 two-byte and 3 three-byte characters, 513 bytes",
                        ("é".repeat(255 - 3) + "€€€").getBytes(StandardCharsets.UTF_8), Sys.ENAMETOOLONG),
                Arguments.of("340 three-byte characters, 1,020 bytes", "€".repeat(340).getBytes(StandardCharsets.UTF_8),
                        Sys.ENAMETOOLONG),
                Arguments.of("127 two-byte characters and one byte, 255 bytes",
                        ("é".repeat(127) + "a").getBytes(StandardCharsets.UTF_8), Sys.ENOENT),
                Arguments.of("255 bytes 0xff, not UTF-8", ff, Sys.ENOENT));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("names")
    void lengthInBytes(String what, byte[] name, int errno) {
        byte[] path = concat((mnt + "/").getBytes(StandardCharsets.UTF_8), name);
        assertThat(Sys.C.open(Sys.path(path), Sys.O_RDONLY, 0)).as("open of %s", what).isEqualTo(-1);
        assertThat(Sys.errno()).as("errno of open of %s", what).isEqualTo(errno);
        assertThat(Sys.C.unlink(Sys.path(path))).as("unlink of %s", what).isEqualTo(-1);
        assertThat(Sys.errno()).as("errno of unlink of %s", what).isEqualTo(errno);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
