// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.FakeSystemd;
import dev.cocosecretfs.testing.Nobody;
import dev.cocosecretfs.testing.Result;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A policy in a mount, through the kernel: each secret's owner, group and mode as stat shows them
 * and as the kernel enforces them on uid 65534; name= links; once; and SIGHUP's reload. Every test
 * ends by checking the page byte for byte: exactly the secrets it meant to wipe are zero.
 */
@DisplayName("policy")
class PolicyIT {
    static final String EACCES = "Permission denied";
    static final String ABSENT = "a1b2c3d4-0000-4000-8000-000000000001";
    /** How systemd's unlinkat_deallocate() opens a key file that keyfile-erase is to erase, before it unlinks it. */
    static final int ERASE_OPEN = Sys.O_WRONLY | Sys.O_CLOEXEC | Sys.O_NOCTTY | Sys.O_NOFOLLOW | Sys.O_NONBLOCK;

    @TempDir
    Path tmp;

    SecretPage page;
    Path backing;
    Path mnt;
    Path policy;
    final Set<Integer> deleted = new TreeSet<>();

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        page = SecretPage.random(5, 40, 4096);
        backing = page.write(tmp.resolve("page.bin"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        policy = tmp.resolve("policy");
    }

    @AfterEach
    void pageHoldsOnlyTheDeletions() throws Exception {
        if (page != null) {
            page.checkOnlyWiped(Files.readAllBytes(backing), deleted);
        }
    }

    String guid(int i) {
        return page.names.get(i);
    }

    Path file(int i) {
        return mnt.resolve(guid(i));
    }

    /** Writes the policy: each line's {i} stands for secret i's GUID. */
    void writePolicy(String... lines) throws Exception {
        StringBuilder text = new StringBuilder("# written by PolicyIT\n");
        for (String line : lines) {
            String l = line;
            for (int i = 0; i < page.size(); i++) {
                l = l.replace("{" + i + "}", guid(i));
            }
            text.append(l).append('\n');
        }
        Files.writeString(policy, text);
    }

    CocoDaemon mount(String... more) throws Exception {
        List<String> options = new ArrayList<>(List.of("--allow-other", "--policy", policy.toString()));
        options.addAll(List.of(more));
        return CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt, options.toArray(String[]::new));
    }

    static long uid(Path p) throws Exception {
        return ((Number) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS)).longValue();
    }

    static long gid(Path p) throws Exception {
        return ((Number) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS)).longValue();
    }

    static String mode(Path p) throws Exception {
        int mode = ((Number) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS)).intValue();
        return Integer.toOctalString(mode);
    }

    /** Asserts uid 65534 reads exactly secret i through {@code path}. */
    void nobodyReads(int i, Path path) throws Exception {
        Result cat = Nobody.run("cat", path.toString());
        assertThat(cat.exit()).as("uid 65534 reads %s: %s", path.getFileName(), cat.err()).isZero();
        assertThat(page.isSecret(i, cat.stdout())).as("uid 65534 gets secret %d", i).isTrue();
    }

    /** Asserts uid 65534 is refused {@code path} with EACCES and got no byte. */
    static void nobodyIsRefused(Path path) throws Exception {
        Result cat = Nobody.run("cat", path.toString());
        assertThat(cat.exit()).as("uid 65534 reads %s", path.getFileName()).isNotZero();
        assertThat(cat.err()).contains(EACCES);
        assertThat(cat.stdout()).isEmpty();
    }

    @Test
    @DisplayName("each file has its line's owner, group and mode (the * line's, else the command line's), and the kernel holds uid 65534 to them")
    void perSecretOwnersAndModes() throws Exception {
        writePolicy(
                "{0} owner=65534 mode=0400",
                "{1} group=65534 mode=0040",
                "{2} mode=0444",
                "{4} owner=nobody mode=0040",
                "*   mode=0400");
        try (CocoDaemon d = mount()) {
            assertThat(List.of(uid(file(0)), gid(file(0)), mode(file(0)))).containsExactly(65534L, 0L, "100400");
            assertThat(List.of(uid(file(1)), gid(file(1)), mode(file(1)))).containsExactly(0L, 65534L, "100040");
            assertThat(List.of(uid(file(2)), gid(file(2)), mode(file(2)))).containsExactly(0L, 0L, "100444");
            assertThat(List.of(uid(file(3)), gid(file(3)), mode(file(3)))).as("the * line")
                    .containsExactly(0L, 0L, "100400");
            assertThat(List.of(uid(file(4)), gid(file(4)), mode(file(4)))).containsExactly(65534L, 0L, "100040");
            for (int i = 0; i < page.size(); i++) {
                assertThat(Files.size(file(i))).isEqualTo(page.length(i));
            }
            // Files 0440 give 0750; with a policy in force the directory opens to group and other.
            PosixFileAttributes dir = Files.readAttributes(mnt, PosixFileAttributes.class);
            assertThat(PosixFilePermissions.toString(dir.permissions())).isEqualTo("rwxr-xr-x");

            nobodyReads(0, file(0)); // as the owner
            nobodyReads(1, file(1)); // as the group
            nobodyReads(2, file(2)); // as other
            nobodyIsRefused(file(3)); // root's 0400
            nobodyIsRefused(file(4)); // its own, but 0040 gives the owner nothing
            for (int i = 0; i < page.size(); i++) {
                assertThat(page.isSecret(i, Files.readAllBytes(file(i)))).as("root reads secret %d", i).isTrue();
            }
        }
    }

    @Test
    @DisplayName("a GUID the page does not hold is one warning, not an error")
    void absentGuidWarns() throws Exception {
        writePolicy(ABSENT + " mode=0400", "{0} mode=0444");
        try (CocoDaemon d = mount()) {
            String line = policy + ":2: " + ABSENT + " is not in the page (not injected, or wiped)";
            assertThat(d.log()).contains("coco-secretfs: warning: " + line);
            assertThat(d.log().split(java.util.regex.Pattern.quote(ABSENT), -1)).as("one warning").hasSize(2);
            nobodyReads(0, file(0));
        }
    }

    @Test
    @DisplayName("name=: a symlink to the GUID, owned as the secret, listed after the secrets; reading through it reads the secret")
    void links() throws Exception {
        writePolicy("{0} name=db-password owner=65534 mode=0400", "{3} name=luks-key group=65534 mode=0440");
        try (CocoDaemon d = mount()) {
            Path db = mnt.resolve("db-password");
            Path luks = mnt.resolve("luks-key");
            assertThat(Files.isSymbolicLink(db)).isTrue();
            assertThat(Files.readSymbolicLink(db)).isEqualTo(Path.of(guid(0)));
            assertThat(Files.readSymbolicLink(luks)).isEqualTo(Path.of(guid(3)));
            assertThat(List.of(uid(db), gid(db), mode(db))).containsExactly(65534L, 0L, "120777");
            assertThat(List.of(uid(luks), gid(luks))).containsExactly(0L, 65534L);
            assertThat(Files.readAttributes(db, "size", LinkOption.NOFOLLOW_LINKS).get("size"))
                    .isEqualTo((long) guid(0).length());
            nobodyReads(0, db);
            nobodyReads(3, luks);
            assertThat(page.isSecret(0, Files.readAllBytes(db))).isTrue();

            // Directory order (ls -U): the secrets by GUID, then the links in the order of their secrets.
            Result ls = Result.of(List.of("ls", "-1U", mnt.toString()));
            List<String> expected = new ArrayList<>(page.names.stream().sorted().toList());
            expected.addAll(guid(0).compareTo(guid(3)) < 0 ? List.of("db-password", "luks-key")
                    : List.of("luks-key", "db-password"));
            assertThat(ls.out().lines().toList()).containsExactlyElementsOf(expected);
            Result lsl = Result.of(List.of("ls", "-l", mnt.toString()));
            assertThat(lsl.out()).contains("db-password -> " + guid(0));
        }
    }

    @Test
    @DisplayName("rm of a link removes only the link; rm of a secret removes its link too")
    void unlinkingLinksAndSecrets() throws Exception {
        writePolicy("{0} name=db-password", "{3} name=luks-key");
        try (CocoDaemon d = mount()) {
            Path db = mnt.resolve("db-password");
            Path luks = mnt.resolve("luks-key");
            Result rm = Result.of(List.of("rm", db.toString()));
            assertThat(rm.exit()).as(rm.err()).isZero();
            assertThat(Files.exists(db, LinkOption.NOFOLLOW_LINKS)).isFalse();
            assertThat(page.isSecret(0, Files.readAllBytes(file(0)))).as("the secret stays").isTrue();
            assertThat(d.awaitLog("removed link db-password")).doesNotContain("wiped secret");
            assertThat(Files.readAllBytes(backing)).as("the page is untouched").isEqualTo(page.bytes);

            // Resolve the link once, so that the kernel has its entry, then delete its secret.
            assertThat(Files.readSymbolicLink(luks)).isEqualTo(Path.of(guid(3)));
            Result rmSecret = Result.of(List.of("rm", file(3).toString()));
            assertThat(rmSecret.exit()).as(rmSecret.err()).isZero();
            deleted.add(3);
            assertThat(Files.exists(file(3))).isFalse();
            assertThat(Files.exists(luks, LinkOption.NOFOLLOW_LINKS)).as("the link went with its secret").isFalse();
            Result ls = Result.of(List.of("ls", "-1U", mnt.toString()));
            assertThat(ls.out().lines()).doesNotContain("luks-key", "db-password", guid(3));
            Result rmGone = Result.of(List.of("rm", luks.toString()));
            assertThat(rmGone.err()).contains("No such file or directory");
        }
    }

    @Test
    @DisplayName("once: a read of all of it, then close, wipes it (file, link and page bytes); a partial read does not")
    void once() throws Exception {
        writePolicy("{0} once", "{1} once mode=0444", "{2} once name=luks-key");
        try (CocoDaemon d = mount()) {
            // A partial read, then close: nothing is wiped.
            int fd = Sys.C.open(Sys.path(file(1).toString()), Sys.O_RDONLY, 0);
            assertThat(fd).isNotNegative();
            byte[] buf = new byte[10];
            assertThat(Sys.C.read(fd, buf, buf.length)).isEqualTo(10);
            assertThat(Sys.C.close(fd)).isZero();
            d.awaitIdle(); // the release has been answered
            assertThat(Files.exists(file(1))).isTrue();
            assertThat(Files.readAllBytes(backing)).as("a partial read wipes nothing").isEqualTo(page.bytes);

            // The whole secret, then close: wiped.
            Result cat = Result.of(List.of("cat", file(0).toString()));
            assertThat(page.isSecret(0, cat.stdout())).as("cat gets the secret").isTrue();
            deleted.add(0);
            assertThat(d.awaitLog("wiped secret " + guid(0))).contains("(once)");
            assertThat(Files.exists(file(0))).isFalse();
            page.checkOnlyWiped(Files.readAllBytes(backing), deleted);

            // The one read in part is still whole, and goes once read in full (by another user, too).
            nobodyReads(1, file(1));
            deleted.add(1);
            d.awaitLog("wiped secret " + guid(1));
            assertThat(Files.exists(file(1))).isFalse();

            // Through its link: the secret and the link go.
            Path luks = mnt.resolve("luks-key");
            assertThat(page.isSecret(2, Files.readAllBytes(luks))).isTrue();
            deleted.add(2);
            d.awaitLog("wiped secret " + guid(2));
            assertThat(Files.exists(file(2))).isFalse();
            assertThat(Files.exists(luks, LinkOption.NOFOLLOW_LINKS)).isFalse();
            assertThat(page.isSecret(3, Files.readAllBytes(file(3)))).as("others stay").isTrue();
        }
    }

    @Test
    @DisplayName("a restart that takes over the mount reads the policy afresh")
    void restartReadsThePolicyAfresh() throws Exception {
        writePolicy("{0} mode=0400 name=before");
        Path bin = Files.createDirectory(tmp.resolve("bin"));
        Path systemctl = Files.writeString(bin.resolve("systemctl"), "#!/bin/sh\n"); // no job queued
        Files.setPosixFilePermissions(systemctl, PosixFilePermissions.fromString("rwxr-xr-x"));
        Map<String, String> env = Map.of("COCO_SECRETFS_UNIT", RestartIT.UNIT,
                "PATH", bin + ":" + System.getenv("PATH"));
        List<String> command = CocoDaemon.command(CocoDaemon.Start.QUICK, CocoDaemon.jar(), List.of("mount",
                "--backing", backing.toString(), "--allow-other", "--policy", policy.toString(), mnt.toString()));
        try (FakeSystemd systemd = new FakeSystemd(tmp.resolve("systemd"), RestartIT.unitStoreMax(),
                FakeSystemd.Access.MAIN)) {
            FakeSystemd.Child first = systemd.start(command, env);
            systemd.awaitReady(Duration.ofSeconds(90));
            nobodyIsRefused(file(0));
            assertThat(Files.readSymbolicLink(mnt.resolve("before"))).isEqualTo(Path.of(guid(0)));

            writePolicy("{0} owner=65534 mode=0400 name=after");
            first.destroyForcibly();
            assertThat(first.waitFor(CocoDaemon.DEADLINE_MS, TimeUnit.MILLISECONDS)).isTrue();
            FakeSystemd.Child second = systemd.start(command, env);
            systemd.awaitReady(Duration.ofSeconds(90));
            assertThat(second.log()).contains("took over the mount at " + mnt);
            assertThat(uid(file(0))).isEqualTo(65534L);
            nobodyReads(0, file(0));
            nobodyReads(0, mnt.resolve("after"));
            assertThat(Files.exists(mnt.resolve("before"), LinkOption.NOFOLLOW_LINKS)).isFalse();
        } finally {
            CocoDaemon.cleanUp(List.of(), mnt);
        }
    }

    @Test
    @DisplayName("the LUKS line under systemd-cryptsetup's keyfile-erase, through its link: read, close (once wipes), the open for erasing refused, the unlink finds nothing")
    void keyfileErase() throws Exception {
        writePolicy("{0} name=luks-key owner=root group=disk mode=0440 once");
        try (CocoDaemon d = mount()) {
            Path key = mnt.resolve("luks-key");
            byte[] path = Sys.path(key.toString());
            assertThat(Sys.C.open(path, Sys.O_WRONLY, 0)).as("open for writing").isEqualTo(-1);
            assertThat(Sys.errno()).isEqualTo(Sys.EPERM);
            assertThat(Sys.C.open(path, ERASE_OPEN, 0)).as("open for erasing, the link still there").isEqualTo(-1);
            assertThat(Sys.errno()).as("a link opened O_NOFOLLOW").isEqualTo(Sys.ELOOP);
            assertThat(page.isSecret(0, Files.readAllBytes(key))).as("the key file holds every byte").isTrue();
            deleted.add(0);
            d.awaitLog("wiped secret " + guid(0));
            assertThat(Sys.C.open(path, ERASE_OPEN, 0)).as("open for erasing, once done").isEqualTo(-1);
            assertThat(Sys.errno()).as("systemd stops here: nothing left to erase").isEqualTo(Sys.ENOENT);
            assertThat(Sys.C.unlink(path)).as("unlinking the path it was given").isEqualTo(-1);
            assertThat(Sys.errno()).isEqualTo(Sys.ENOENT);
            assertThat(Files.exists(file(0))).isFalse();
            assertThat(page.isSecret(1, Files.readAllBytes(file(1)))).as("others stay").isTrue();
        }
    }

    @Test
    @DisplayName("keyfile-erase on the GUID's own file, no once: the open for erasing refused, the unlink wipes it")
    void keyfileEraseOnTheGuid() throws Exception {
        writePolicy("{0} owner=root group=disk mode=0440");
        try (CocoDaemon d = mount()) {
            byte[] path = Sys.path(file(0).toString());
            assertThat(page.isSecret(0, Files.readAllBytes(file(0)))).as("the key file holds every byte").isTrue();
            assertThat(Files.readAllBytes(backing)).as("a read alone wipes nothing").isEqualTo(page.bytes);
            assertThat(Sys.C.open(path, ERASE_OPEN, 0)).as("open for erasing").isEqualTo(-1);
            assertThat(Sys.errno()).isEqualTo(Sys.EPERM);
            assertThat(Sys.C.unlink(path)).as("unlinking the GUID's file").isZero();
            deleted.add(0);
            d.awaitLog("wiped secret " + guid(0));
            assertThat(Files.exists(file(0))).isFalse();
            assertThat(page.isSecret(1, Files.readAllBytes(file(1)))).as("others stay").isTrue();
        }
    }

    @Test
    @DisplayName("SIGHUP: a changed owner, mode and name show without a remount; a bad policy is refused with its line and the old one stays")
    void reload() throws Exception {
        writePolicy("{0} mode=0400 name=first", "{1} mode=0444");
        try (CocoDaemon d = mount()) {
            nobodyIsRefused(file(0));
            nobodyReads(1, file(1));
            assertThat(Files.readSymbolicLink(mnt.resolve("first"))).isEqualTo(Path.of(guid(0)));
            assertThat(uid(file(0))).isZero();

            writePolicy("{0} owner=65534 mode=0400 name=second", "{1} mode=0400");
            CocoDaemon.signal(d.pid(), "HUP");
            d.awaitLog("policy reloaded from " + policy);
            assertThat(List.of(uid(file(0)), mode(file(0)))).containsExactly(65534L, "100400");
            assertThat(mode(file(1))).isEqualTo("100400");
            nobodyReads(0, file(0));
            nobodyIsRefused(file(1));
            assertThat(Files.exists(mnt.resolve("first"), LinkOption.NOFOLLOW_LINKS)).isFalse();
            assertThat(Files.readSymbolicLink(mnt.resolve("second"))).isEqualTo(Path.of(guid(0)));
            nobodyReads(0, mnt.resolve("second"));

            writePolicy("{0} mode=0444", "{1} colour=blue");
            CocoDaemon.signal(d.pid(), "HUP");
            String log = d.awaitLog("the policy in force stays");
            assertThat(log).contains("coco-secretfs: warning: SIGHUP: " + policy + ":3: unknown option 'colour=blue'");
            assertThat(d.process.isAlive()).isTrue();
            assertThat(d.isMounted()).isTrue();
            // The policy of the last good reload is in force.
            assertThat(uid(file(0))).isEqualTo(65534L);
            nobodyReads(0, mnt.resolve("second"));
            nobodyIsRefused(file(1));
            assertThat(page.isSecret(1, Files.readAllBytes(file(1)))).isTrue();
        }
    }
}
