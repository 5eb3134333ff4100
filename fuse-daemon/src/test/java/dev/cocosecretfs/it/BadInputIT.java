// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Result;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input gets one line on stderr that says what and where, a sysexits code, nothing mounted and
 * the backing unchanged.
 */
class BadInputIT {
    static final String GUID = "736869e5-84f0-4973-92ec-06879ce3da0b";

    @TempDir
    Path tmp;

    Path page;
    Path mnt;

    @BeforeEach
    void setUp() throws Exception {
        page = tmp.resolve("page.bin");
        assertThat(CocoDaemon.run("pack", "--out", page.toString(), GUID + "=passphrase").exit()).isZero();
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    /** A page whose second entry claims 7 bytes. */
    static byte[] corruptPage() {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        b.put(HexFormat.of().parseHex("42f5741edd71664d963eef4287ff173b")).putInt(100);
        b.put(new byte[16]).position(20).put(HexFormat.of().parseHex("e56968736f8473499" + "2ec06879ce3da0b"))
                .putInt(40).put(new byte[20]);
        b.put(HexFormat.of().parseHex("62a1f5e67fd65047a67c5d065f2a9910")).putInt(7);
        return b.array();
    }

    static Stream<Arguments> badMounts() {
        return Stream.of(
                Arguments.of("missing backing", 66, "backing {tmp}/nope: no such file or device"),
                Arguments.of("directory backing", 66, "backing {tmp}: is a directory"),
                Arguments.of("page under 20 bytes", 65, "{tmp}/tiny.bin: area is 10 bytes, below the 20-byte table header"),
                Arguments.of("corrupt table", 65,
                        "{tmp}/corrupt.bin: entry at offset 60: length 7 is below the 20-byte entry header"),
                Arguments.of("missing mount point", 1, "mount point {tmp}/absent does not exist"),
                Arguments.of("mount point is a file", 1, "mount point {tmp}/page.bin is not a directory"),
                Arguments.of("mount point not empty", 1, "mount point {tmp} is not empty"),
                Arguments.of("bad mode", 64, "--mode 0999: not an octal number"),
                Arguments.of("mode with type bits", 64, "mode 10440 is not made of permission bits 0-0777"),
                Arguments.of("bad uid", 64, "Invalid value for option '--uid': 'root' is not a long"),
                Arguments.of("unknown option", 64, "Unknown option: '--bogus'"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badMounts")
    void mountRefuses(String what, int exit, String message) throws Exception {
        Files.write(tmp.resolve("tiny.bin"), new byte[10]);
        Files.write(tmp.resolve("corrupt.bin"), corruptPage());
        Path backing = switch (what) {
            case "missing backing" -> tmp.resolve("nope");
            case "directory backing" -> tmp;
            case "page under 20 bytes" -> tmp.resolve("tiny.bin");
            case "corrupt table" -> tmp.resolve("corrupt.bin");
            default -> page;
        };
        Path where = switch (what) {
            case "missing mount point" -> tmp.resolve("absent");
            case "mount point is a file" -> page;
            case "mount point not empty" -> tmp;
            default -> mnt;
        };
        List<String> args = new ArrayList<>(List.of("mount", "--backing", backing.toString()));
        switch (what) {
            case "bad mode" -> args.addAll(List.of("--mode", "0999"));
            case "mode with type bits" -> args.addAll(List.of("--mode", "010440"));
            case "bad uid" -> args.addAll(List.of("--uid", "root"));
            case "unknown option" -> args.add("--bogus");
            default -> { }
        }
        args.add(where.toString());
        byte[] before = Files.isRegularFile(backing) ? Files.readAllBytes(backing) : null;

        Result r = CocoDaemon.run(args.toArray(new String[0]));

        assertThat(r.exit()).as(r.err()).isEqualTo(exit);
        assertThat(r.errLines()).singleElement().asString()
                .startsWith("coco-secretfs: " + message.replace("{tmp}", tmp.toRealPath().toString()));
        assertThat(MountTable.at(mnt.toRealPath())).isEmpty();
        assertThat(MountTable.at(tmp.toRealPath())).isEmpty();
        if (before != null) {
            assertThat(Files.readAllBytes(backing)).isEqualTo(before);
        }
    }

    @Test
    @DisplayName("mount: too few file descriptors allowed (prlimit --nofile=8)")
    void tooFewOpenFiles() throws Exception {
        byte[] before = Files.readAllBytes(page);
        Result r = CocoDaemon.runUnder(List.of("prlimit", "--nofile=8"), "mount", "--backing",
                page.toString(), mnt.toString());
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.errLines()).singleElement().asString().isEqualTo("coco-secretfs: the open-file limit"
                + " (RLIMIT_NOFILE) is 8; the daemon needs at least 32 (ulimit -n, LimitNOFILE=)");
        assertThat(MountTable.at(mnt.toRealPath())).isEmpty();
        assertThat(Files.readAllBytes(page)).isEqualTo(before);
    }

    @Test
    @DisplayName("pack: secrets that do not fit")
    void packTooBig() throws Exception {
        byte[] before = Files.readAllBytes(page);
        Result r = CocoDaemon.run("pack", "--out", page.toString(), "--size", "64", GUID + "=" + "x".repeat(30));
        assertThat(r.exit()).isEqualTo(65);
        assertThat(r.errLines()).singleElement().asString()
                .isEqualTo("coco-secretfs: " + page + ": the secrets need 70 bytes with their headers; the page is 64 bytes");
        assertThat(Files.readAllBytes(page)).as("the old page is left as it was").isEqualTo(before);
    }

    @Test
    @DisplayName("pack: a bad GUID, a missing file, a repeated GUID, no '='")
    void packBadArguments() throws Exception {
        Path out = tmp.resolve("out.bin");
        Result bad = CocoDaemon.run("pack", "--out", out.toString(), "not-a-guid=x");
        assertThat(bad.exit()).isEqualTo(64);
        assertThat(bad.errLines()).singleElement().asString().startsWith("coco-secretfs: 'not-a-guid' is not a GUID");
        Result missing = CocoDaemon.run("pack", "--out", out.toString(), GUID + "=@" + tmp.resolve("none"));
        assertThat(missing.exit()).isEqualTo(66);
        assertThat(missing.errLines()).singleElement().asString()
                .isEqualTo("coco-secretfs: secret file " + tmp.resolve("none") + ": no such file or device");
        Result twice = CocoDaemon.run("pack", "--out", out.toString(), GUID + "=a", GUID + "=b");
        assertThat(twice.exit()).isEqualTo(64);
        Result noEq = CocoDaemon.run("pack", "--out", out.toString(), "hunter2");
        assertThat(noEq.exit()).isEqualTo(64);
        assertThat(noEq.err()).as("a malformed argument may be a secret: never echoed").doesNotContain("hunter2");
        assertThat(out).doesNotExist();
    }

    @Test
    @DisplayName("inspect: a corrupt page, a missing page")
    void inspectBad() throws Exception {
        Path corrupt = tmp.resolve("corrupt.bin");
        Files.write(corrupt, corruptPage());
        Result r = CocoDaemon.run("inspect", corrupt.toString());
        assertThat(r.exit()).isEqualTo(65);
        assertThat(r.errLines()).singleElement().asString()
                .isEqualTo("coco-secretfs: " + corrupt + ": entry at offset 60: length 7 is below the 20-byte entry header");
        assertThat(CocoDaemon.run("inspect", tmp.resolve("none").toString()).exit()).isEqualTo(66);
    }

    @Test
    @DisplayName("inspect never prints secret bytes")
    void inspectPrintsNoSecret() throws Exception {
        Result text = CocoDaemon.run("inspect", page.toString());
        Result json = CocoDaemon.run("inspect", "--json", page.toString());
        assertThat(text.exit()).isZero();
        assertThat(text.out()).contains(GUID).contains("live").doesNotContain("passphrase");
        assertThat(json.out()).contains("\"guid\":\"" + GUID + "\"").doesNotContain("passphrase");
    }
}
