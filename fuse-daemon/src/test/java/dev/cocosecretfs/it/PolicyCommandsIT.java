// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The policy at the command line: a bad one stops {@code mount} with its line before anything is
 * mounted, and {@code inspect --policy} shows what each secret would get.
 */
class PolicyCommandsIT {
    static final String LUKS = "736869e5-84f0-4973-92ec-06879ce3da0b";
    static final String KBS = "1ee27366-0c87-43a6-af48-28543eaf7cb0";
    static final String ABSENT = "a1b2c3d4-0000-4000-8000-000000000001";

    @TempDir
    Path tmp;

    Path page;
    Path mnt;
    Path policy;

    @BeforeEach
    void setUp() throws Exception {
        page = tmp.resolve("page.bin");
        Path luks = Files.writeString(tmp.resolve("luks"), "correct horse");
        Path kbs = Files.writeString(tmp.resolve("kbs"), "token");
        assertThat(CocoDaemon.run("pack", "--out", page.toString(), LUKS + "=@" + luks, KBS + "=@" + kbs).exit())
                .isZero();
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        policy = tmp.resolve("policy");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            unknown option | * mode=0400\\n{luks} colour=blue  | 2: unknown option 'colour=blue' (expected owner=, group=, mode=, name= or once)
            unknown user   | {luks} owner=no-such-user-here   | 1: owner=no-such-user-here: no such user
            unknown group  | {luks} group=no-such-group-here  | 1: group=no-such-group-here: no such group
            write bits     | # keys\\n\\n{luks} mode=0644      | 3: mode=0644: gives write permission; secrets are read-only (use at most 0444)
            name twice     | {luks} name=key\\n{kbs} name=key  | 2: name=key is used twice (also on line 1)
            GUID twice     | {luks}\\n{luks} once             | 2: {luks} is listed twice (also on line 1)
            """)
    void aBadPolicyMountsNothing(String what, String text, String message) throws Exception {
        Files.writeString(policy, text.replace("\\n", "\n").replace("{luks}", LUKS).replace("{kbs}", KBS) + "\n");
        byte[] before = Files.readAllBytes(page);

        Result r = CocoDaemon.run("mount", "--backing", page.toString(), "--policy", policy.toString(), mnt.toString());

        assertThat(r.exit()).as(r.err()).isEqualTo(65);
        assertThat(r.errLines()).singleElement().asString()
                .isEqualTo("coco-secretfs: " + policy + ":" + message.replace("{luks}", LUKS));
        assertThat(MountTable.at(mnt.toRealPath())).isEmpty();
        assertThat(Files.readAllBytes(page)).isEqualTo(before);
    }

    @Test
    void aMissingPolicyIsAnErrorAndTwoPoliciesAreAUsageError() throws Exception {
        Path absent = tmp.resolve("absent");
        Result missing = CocoDaemon.run("mount", "--backing", page.toString(), "--policy", absent.toString(),
                mnt.toString());
        assertThat(missing.exit()).as(missing.err()).isEqualTo(66);
        assertThat(missing.errLines()).singleElement().asString().isEqualTo("coco-secretfs: " + absent
                + ": no such file");

        Files.writeString(policy, "* mode=0400\n");
        Result both = CocoDaemon.run("mount", "--backing", page.toString(), "--policy", policy.toString(),
                "--optional-policy", absent.toString(), mnt.toString());
        assertThat(both.exit()).as(both.err()).isEqualTo(64);
        assertThat(both.errLines()).singleElement().asString()
                .isEqualTo("coco-secretfs: --policy and --optional-policy exclude each other");
        assertThat(MountTable.at(mnt.toRealPath())).isEmpty();
    }

    @Test
    void aBadDirModeIsAUsageError() throws Exception {
        Result r = CocoDaemon.run("mount", "--backing", page.toString(), "--dir-mode", "4755", mnt.toString());
        assertThat(r.exit()).as(r.err()).isEqualTo(64);
        assertThat(r.errLines()).singleElement().asString().isEqualTo("coco-secretfs: --dir-mode 4755: only"
                + " permission bits and the sticky bit (0 to 01777) may be given");
        assertThat(MountTable.at(mnt.toRealPath())).isEmpty();
    }

    @Test
    void inspectShowsWhatEachSecretWouldGet() throws Exception {
        Files.writeString(policy, LUKS + " name=luks-key owner=root group=disk mode=0440\n"
                + KBS + " owner=65534 mode=0400 once\n"
                + ABSENT + " mode=0400\n"
                + "* mode=0400\n");

        Result r = CocoDaemon.run("inspect", "--policy", policy.toString(), "--uid", "7", "--gid", "8", page.toString());

        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).containsPattern(LUKS + " +13  live +0 +6 +0440 +no +luks-key\n");
        assertThat(r.out()).containsPattern(KBS + " +5  live +65534 +8 +0400 +yes +-\n");
        assertThat(r.errLines()).singleElement().asString().isEqualTo("coco-secretfs: warning: " + policy
                + ":3: " + ABSENT + " is not in " + page + " (not injected, or wiped)");

        Result json = CocoDaemon.run("inspect", "--json", "--policy", policy.toString(), page.toString());
        assertThat(json.exit()).as(json.err()).isZero();
        assertThat(json.out()).contains("\"guid\":\"" + LUKS + "\"", "\"access\":{\"uid\":0,\"gid\":6,"
                + "\"mode\":\"0440\",\"name\":\"luks-key\",\"once\":false}");
        assertThat(json.out()).contains("\"access\":{\"uid\":65534,\"gid\":0,\"mode\":\"0400\",\"name\":null,"
                + "\"once\":true}");
    }

    @Test
    void inspectRefusesABadPolicyWithItsLine() throws Exception {
        Files.writeString(policy, "* name=x\n");
        Result r = CocoDaemon.run("inspect", "--policy", policy.toString(), page.toString());
        assertThat(r.exit()).isEqualTo(65);
        assertThat(r.errLines()).singleElement().asString().isEqualTo("coco-secretfs: " + policy
                + ":1: name= cannot be given to '*' (a name belongs to one secret)");
        assertThat(r.out()).isEmpty();
    }
}
