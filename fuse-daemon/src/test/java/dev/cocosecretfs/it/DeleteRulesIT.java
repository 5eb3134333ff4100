// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Nobody;
import dev.cocosecretfs.testing.Result;
import dev.cocosecretfs.testing.SecretPage;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may delete which secret, the setups the README shows: the kernel decides (default_permissions)
 * from the directory's owner and mode and the sticky bit, as on /tmp. Secret 0 is uid 65534's (and
 * so is its link, "mine"), secret 1 root's (link "roots"), both readable by all; the page is checked
 * byte for byte after each test.
 */
@DisplayName("who deletes")
class DeleteRulesIT {
    static final String EACCES = "Permission denied";
    static final String EPERM = "Operation not permitted";

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
        page = SecretPage.random(3, 32, 4096);
        backing = page.write(tmp.resolve("page.bin"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        policy = Files.writeString(tmp.resolve("policy"), page.names.get(0) + " owner=65534 mode=0444 name=mine\n"
                + page.names.get(1) + " owner=0 mode=0444 name=roots\n");
    }

    @AfterEach
    void pageHoldsOnlyTheDeletions() throws Exception {
        if (page != null) {
            page.checkOnlyWiped(Files.readAllBytes(backing), deleted);
        }
    }

    Path file(int i) {
        return mnt.resolve(page.names.get(i));
    }

    CocoDaemon mount(String... more) throws Exception {
        List<String> options = new ArrayList<>(List.of("--allow-other", "--policy", policy.toString()));
        options.addAll(List.of(more));
        return CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt, options.toArray(String[]::new));
    }

    /** uid 65534's {@code rm -f PATH}: refused with {@code error}, the name still there. */
    static void nobodyCannotDelete(Path path, String error) throws Exception {
        Result rm = Nobody.run("rm", "-f", path.toString());
        assertThat(rm.exit()).as("uid 65534 deletes %s", path.getFileName()).isNotZero();
        assertThat(rm.err()).contains(error);
        assertThat(Files.exists(path, LinkOption.NOFOLLOW_LINKS)).isTrue();
    }

    static void deletes(Result rm, Path path) {
        assertThat(rm.exit()).as("deleting %s: %s", path.getFileName(), rm.err()).isZero();
        assertThat(Files.exists(path, LinkOption.NOFOLLOW_LINKS)).isFalse();
    }

    static void nobodyDeletes(Path path) throws Exception {
        deletes(Nobody.run("rm", "-f", path.toString()), path);
    }

    static void rootDeletes(Path path) throws Exception {
        deletes(Result.of(List.of("rm", "-f", path.toString())), path);
    }

    @Test
    @DisplayName("default: the directory is root's, write for root only: only root deletes, even uid 65534's own")
    void onlyRootByDefault() throws Exception {
        try (CocoDaemon d = mount()) {
            assertThat(Files.getPosixFilePermissions(mnt)).isEqualTo(PosixFilePermissions.fromString("rwxr-xr-x"));
            nobodyCannotDelete(file(0), EACCES);
            nobodyCannotDelete(mnt.resolve("mine"), EACCES);
            nobodyCannotDelete(file(1), EACCES);
            rootDeletes(mnt.resolve("roots"));
            rootDeletes(file(0));
            deleted.add(0);
        }
    }

    @Test
    @DisplayName("--uid 65534: the directory's owner deletes any secret, root's too")
    void theDirectorysOwnerDeletesAny() throws Exception {
        try (CocoDaemon d = mount("--uid", "65534", "--gid", "65534")) {
            assertThat(Files.getAttribute(mnt, "unix:uid")).isEqualTo(65534);
            nobodyDeletes(mnt.resolve("roots"));
            nobodyDeletes(file(1));
            deleted.add(1);
            nobodyDeletes(file(0));
            deleted.add(0);
            assertThat(d.awaitLog("wiped secret " + page.names.get(1))).contains("uid 65534");
        }
    }

    @Test
    @DisplayName("--dir-mode 1777: sticky as /tmp, each owner deletes only their own (file and link); root any")
    void stickyEachOwnerTheirOwn() throws Exception {
        try (CocoDaemon d = mount("--dir-mode", "1777")) {
            assertThat(Files.getAttribute(mnt, "unix:mode")).isEqualTo(041777);
            nobodyCannotDelete(file(1), EPERM);
            nobodyCannotDelete(mnt.resolve("roots"), EPERM);
            nobodyDeletes(mnt.resolve("mine"));
            nobodyDeletes(file(0));
            deleted.add(0);
            rootDeletes(file(1));
            deleted.add(1);
        }
    }

    @Test
    @DisplayName("--dir-mode 0555: nobody but root deletes, not even a file's owner")
    void readOnlyDirectory() throws Exception {
        try (CocoDaemon d = mount("--dir-mode", "0555")) {
            assertThat(Files.getPosixFilePermissions(mnt)).isEqualTo(PosixFilePermissions.fromString("r-xr-xr-x"));
            nobodyCannotDelete(file(0), EACCES);
            nobodyCannotDelete(mnt.resolve("mine"), EACCES);
            rootDeletes(file(0));
            deleted.add(0);
            assertThat(Files.exists(mnt.resolve("mine"), LinkOption.NOFOLLOW_LINKS)).as("its link went too").isFalse();
        }
    }
}
