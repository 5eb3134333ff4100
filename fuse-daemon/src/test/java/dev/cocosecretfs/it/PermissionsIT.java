// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.platform.NativeMemory;
import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Nobody;
import dev.cocosecretfs.testing.Result;
import dev.cocosecretfs.testing.SecretPage;
import dev.cocosecretfs.testing.Sys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may read and delete, as uid 65534 through the kernel: only the user the files belong to, only
 * with {@code --allow-other}, and only with write on the directory for deleting. Nobody writes, not
 * the owner of a mode that grants writing, not root. Errors are told apart by their text: "Permission
 * denied" is EACCES (the kernel's mode check, or FUSE keeping other users out), "Operation not
 * permitted" is EPERM (the daemon refusing the operation itself). A case named "kernel: ..." proves
 * what the kernel answers before any request reaches the daemon: FUSE on a mount without
 * {@code allow_other} (it answers other users itself), and the calls that need what no caller can
 * get here (a descriptor open for writing, a directory other than the root): kept because the README
 * promises it, but no code of the daemon's decides it.
 */
@DisplayName("permissions")
class PermissionsIT {
    static final String EACCES = "Permission denied";
    static final String EPERM = "Operation not permitted";
    /** EBUSY, which Sys does not name. */
    static final int EBUSY_ERRNO = 16;

    @TempDir
    Path tmp;

    SecretPage page;
    Path backing;
    Path mnt;
    final Set<Integer> deleted = new TreeSet<>();

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        // Other users must reach the mount point for these tests to test the mount, not /tmp.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        page = SecretPage.random(3, 40, 4096);
        backing = page.write(tmp.resolve("page.bin"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    @AfterEach
    void pageHoldsOnlyTheDeletions() throws Exception {
        if (page != null) {
            page.checkOnlyWiped(Files.readAllBytes(backing), deleted);
        }
    }

    String file(int i) {
        return mnt.resolve(page.names.get(i)).toString();
    }

    static Result asNobody(String... command) throws Exception {
        return Nobody.run(command);
    }

    static Result asRoot(String... command) throws Exception {
        return Result.of(List.of(command));
    }

    /** Asserts the command failed with that error text and printed nothing on stdout. */
    static void refused(String what, Result r, String error) {
        assertThat(r.exit()).as(what + " exits non-zero").isNotZero();
        assertThat(r.err()).as(what).contains(error);
        assertThat(r.stdout().length).as(what + ": bytes on stdout (which could be a secret's)").isZero();
    }

    /** {@link #noWrites(boolean, String, String, String)} where a hard link fails as creating does. */
    void noWrites(boolean asNobody, String expected, String expectedForCreate) throws Exception {
        noWrites(asNobody, expected, expectedForCreate, expectedForCreate);
    }

    /**
     * Tries to change or create every way there is, as one user; each must be refused with the error
     * given for writing to a secret, creating a name, or hard-linking a secret (which the kernel's
     * protected_hardlinks refuses with EPERM to a user who may look up the file but does not own it).
     */
    void noWrites(boolean asNobody, String expected, String expectedForCreate, String expectedForHardLink)
            throws Exception {
        String f = file(1);
        String fresh = mnt.resolve("2cf13667-ea72-4013-9dd6-155e89c5a28f").toString();
        String[][] writes = {
            {"sh", "-c", "printf x > \"$1\"", "sh", f},
            {"sh", "-c", "printf x >> \"$1\"", "sh", f},
            {"truncate", "-s", "0", f},
        };
        for (String[] w : writes) {
            refused(String.join(" ", w), asNobody ? asNobody(w) : asRoot(w), expected);
        }
        String[][] creates = {
            {"touch", fresh},
            {"mkdir", fresh},
            {"mv", f, fresh},
            {"ln", "-s", f, fresh},
        };
        for (String[] w : creates) {
            refused(String.join(" ", w), asNobody ? asNobody(w) : asRoot(w), expectedForCreate);
        }
        String[] link = {"ln", f, fresh};
        refused("ln", asNobody ? asNobody(link) : asRoot(link), expectedForHardLink);
        assertThat(Files.exists(Path.of(fresh))).isFalse();
    }

    @Test
    @DisplayName("by default: the directory root's 0750; each file regular, root's 0440, the size of its secret")
    void defaults() throws Exception {
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            PosixFileAttributes dir = Files.readAttributes(mnt, PosixFileAttributes.class);
            assertThat(PosixFilePermissions.toString(dir.permissions())).isEqualTo("rwxr-x---");
            assertThat(dir.owner().getName()).isEqualTo("root");
            assertThat(dir.group().getName()).isEqualTo("root");
            for (int i = 0; i < page.size(); i++) {
                PosixFileAttributes file = Files.readAttributes(Path.of(file(i)), PosixFileAttributes.class);
                assertThat(file.isRegularFile()).as("secret %d is a regular file", i).isTrue();
                assertThat(PosixFilePermissions.toString(file.permissions())).isEqualTo("r--r-----");
                assertThat(file.owner().getName()).isEqualTo("root");
                assertThat(file.group().getName()).isEqualTo("root");
                assertThat(file.size()).as("size of secret %d", i).isEqualTo(page.length(i));
            }
        }
    }

    @Test
    @DisplayName("kernel: without --allow-other (FUSE's default) uid 65534 cannot list, read, unlink or write")
    void withoutAllowOther() throws Exception {
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            refused("ls", asNobody("ls", mnt.toString()), EACCES);
            refused("cat", asNobody("cat", file(0)), EACCES);
            refused("rm", asNobody("rm", file(0)), EACCES);
            noWrites(true, EACCES, EACCES);
            assertThat(page.isSecret(0, asRoot("cat", file(0)).stdout())).as("root reads").isTrue();
        }
    }

    @Test
    @DisplayName("with --allow-other: files root's 0440 in a 0750 directory: uid 65534 cannot list, read or unlink")
    void withAllowOther() throws Exception {
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt, "--allow-other")) {
            refused("ls", asNobody("ls", mnt.toString()), EACCES);
            refused("cat", asNobody("cat", file(0)), EACCES);
            refused("rm", asNobody("rm", file(0)), EACCES);
            noWrites(true, EACCES, EACCES);
        }
    }

    @Test
    @DisplayName("with --allow-other --mode 0444: uid 65534 reads, but without write on the directory cannot unlink")
    void worldReadableButNotDeletable() throws Exception {
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt, "--allow-other", "--mode", "0444")) {
            assertThat(Files.getPosixFilePermissions(mnt)).isEqualTo(PosixFilePermissions.fromString("rwxr-xr-x"));
            Result cat = asNobody("cat", file(0));
            assertThat(cat.exit()).as(cat.err()).isZero();
            assertThat(page.isSecret(0, cat.stdout())).as("uid 65534 reads a 0444 secret").isTrue();
            refused("rm", asNobody("rm", "-f", file(0)), EACCES);
            noWrites(true, EACCES, EACCES, EPERM);
        }
    }

    @Test
    @DisplayName("kernel: --uid 65534 without --allow-other: FUSE keeps even the owner out")
    void ownerWithoutAllowOther() throws Exception {
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt, "--uid", "65534", "--gid", "65534")) {
            refused("cat", asNobody("cat", file(0)), EACCES);
            refused("rm", asNobody("rm", file(0)), EACCES);
        }
    }

    @Test
    @DisplayName("--uid 65534 --allow-other: that user reads and, with write on the directory, unlinks; never writes")
    void ownerReadsAndUnlinks() throws Exception {
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt, "--allow-other",
                "--uid", "65534", "--gid", "65534")) {
            Result ls = asNobody("ls", mnt.toString());
            assertThat(ls.out().lines().sorted())
                    .containsExactlyElementsOf(page.names.stream().sorted().toList());
            for (int i = 0; i < page.size(); i++) {
                Result cat = asNobody("cat", file(i));
                assertThat(cat.exit()).as(cat.err()).isZero();
                assertThat(page.isSecret(i, cat.stdout())).as("the owner reads secret %d", i).isTrue();
            }
            // Files 0440: the kernel refuses writing (EACCES); creating in the owner's 0750 directory
            // reaches the daemon, which refuses (EPERM).
            noWrites(true, EACCES, EPERM);
            refused("chmod", asNobody("chmod", "0666", file(1)), EPERM);
            Result rm = asNobody("rm", file(0));
            assertThat(rm.exit()).as(rm.err()).isZero();
            deleted.add(0);
            assertThat(Files.exists(Path.of(file(0)))).isFalse();
            assertThat(d.awaitLog("wiped secret " + page.names.get(0))).contains("uid 65534");
        }
    }

    @Test
    @DisplayName("--mode 0640 grants the owner write: the kernel lets it through, the daemon refuses")
    void aModeThatGrantsWriteStillWritesNothing() throws Exception {
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt, "--allow-other",
                "--uid", "65534", "--gid", "65534", "--mode", "0640")) {
            noWrites(true, EPERM, EPERM);
            Result cat = asNobody("cat", file(1));
            assertThat(page.isSecret(1, cat.stdout())).as("the secret is unchanged").isTrue();
        }
    }

    @Test
    @DisplayName("root writes nothing either")
    void rootWritesNothing() throws Exception {
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            noWrites(false, EPERM, EPERM);
            refused("chmod", asRoot("chmod", "0666", file(1)), EPERM);
            refused("chown", asRoot("chown", "65534", file(1)), EPERM);
            assertThat(page.isSecret(1, asRoot("cat", file(1)).stdout())).isTrue();
        }
    }

    @Test
    @DisplayName("root's system calls that would write each get EPERM from the daemon, and the mount serves on")
    void rootsWriteCallsGetEperm() throws Exception {
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            Sys c = Sys.C;
            byte[] f = Sys.path(file(1));
            String freshName = mnt.resolve("2cf13667-ea72-4013-9dd6-155e89c5a28f").toString();
            byte[] fresh = Sys.path(freshName);
            assertEperm("open for writing", c.open(f, Sys.O_WRONLY, 0));
            assertEperm("open read-write", c.open(f, Sys.O_RDWR, 0));
            assertEperm("open with O_TRUNC", c.open(f, Sys.O_RDONLY | Sys.O_TRUNC, 0));
            assertEperm("create", c.open(fresh, Sys.O_WRONLY | Sys.O_CREAT, 0600));
            assertEperm("mknod", c.mknod(fresh, 0100600, 0));
            assertEperm("mkdir", c.mkdir(Sys.path(mnt.resolve("d").toString()), 0700));
            assertEperm("rename", c.rename(f, fresh));
            assertEperm("link", c.link(f, fresh));
            assertEperm("symlink", c.symlink(f, fresh));
            assertEperm("chmod", c.chmod(f, 0644));
            assertEperm("chown", c.chown(f, 1, 1));
            assertEperm("truncate", c.truncate(f, 0));
            assertEperm("setxattr", c.setxattr(f, "user.x", new byte[] {1}, 1, 0));
            assertEperm("utimes", c.utimes(f, null));
            // Were removexattr not wired, libfuse would answer ENOSYS and the kernel give EOPNOTSUPP:
            // EPERM is the daemon's refusal.
            assertEperm("removexattr", removexattr(file(1), "user.x"));
            assertEperm("rename over another secret", c.rename(f, Sys.path(file(2))));
            assertThat(page.isSecret(1, Files.readAllBytes(Path.of(file(1))))).as("the secret is unchanged").isTrue();
            assertThat(page.isSecret(2, Files.readAllBytes(Path.of(file(2))))).as("the other is unchanged").isTrue();
            assertThat(Files.exists(Path.of(freshName))).isFalse();
            assertThat(d.process.isAlive()).isTrue();
        }
    }

    @Test
    @DisplayName("kernel: write, ftruncate and fallocate on a read-only descriptor, rmdir of a secret or the mount point")
    void callsTheKernelAnswers() throws Exception {
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            Sys c = Sys.C;
            // No open for writing succeeds (above), so every descriptor of a secret is read-only.
            int fd = c.open(Sys.path(file(1)), Sys.O_RDONLY, 0);
            assertThat(fd).as("open read-only").isNotNegative();
            try {
                assertErrno("write", c.write(fd, new byte[] {1}, 1), Sys.EBADF);
                assertErrno("ftruncate", c.syscall(number("ftruncate"), fd, 0, 0, 0, 0, 0), Sys.EINVAL);
                assertErrno("fallocate", c.syscall(number("fallocate"), fd, 0, 0, 16, 0, 0), Sys.EBADF);
            } finally {
                assertThat(c.close(fd)).isZero();
            }
            // The mount's only directory is its root.
            assertErrno("rmdir of a secret", c.rmdir(Sys.path(file(1))), Sys.ENOTDIR);
            assertErrno("rmdir of the mount point", c.rmdir(Sys.path(mnt.toString())), EBUSY_ERRNO);
            assertThat(page.isSecret(1, Files.readAllBytes(Path.of(file(1))))).as("the secret is unchanged").isTrue();
            assertThat(d.process.isAlive()).isTrue();
        }
    }

    /** removexattr(2), through the raw system call: Sys binds no wrapper for it. */
    private static long removexattr(String path, String name) {
        long p = NativeMemory.cString(path);
        long n = NativeMemory.cString(name);
        try {
            return Sys.C.syscall(number("removexattr"), p, n, 0, 0, 0, 0);
        } finally {
            NativeMemory.free(p);
            NativeMemory.free(n);
        }
    }

    /** The number of a system call Sys binds no wrapper for, on this machine's architecture. */
    private static long number(String call) {
        boolean x86 = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> true;
            case "aarch64" -> false;
            default -> throw new UnsupportedOperationException(
                    call + "'s number on " + System.getProperty("os.arch"));
        };
        return switch (call) {
            case "removexattr" -> x86 ? 197 : 14;
            case "ftruncate" -> x86 ? 77 : 46;
            case "fallocate" -> x86 ? 285 : 47;
            default -> throw new IllegalArgumentException(call);
        };
    }

    private static void assertErrno(String what, long result, int expected) {
        int errno = Sys.errno();
        assertThat(result).as(what).isEqualTo(-1);
        assertThat(errno).as(what + " errno").isEqualTo(expected);
    }

    private static void assertEperm(String what, long result) {
        int errno = Sys.errno();
        assertThat(result).as(what).isEqualTo(-1);
        assertThat(errno).as(what + " errno").isEqualTo(Sys.EPERM);
    }
}
