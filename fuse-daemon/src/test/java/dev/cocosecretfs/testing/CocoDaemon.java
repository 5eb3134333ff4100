// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cocosecretfs.fuse.MountTable;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A {@code coco-secretfs mount} in a child process, started the way users start it. Unlike the mount
 * tests' helper it can start the daemon through the launcher, as another user, or with extra
 * environment, and it knows the daemon's pid (setpriv and the launcher both exec, so the pid is the
 * daemon's).
 */
public final class CocoDaemon implements AutoCloseable {
    /** Upper bound for a mount to appear or a command to end; a hang fails the test instead of the build. */
    private static final long DEADLINE_MS = 90_000;

    /** How the daemon is started. */
    public enum Start {
        /** {@code java -jar coco-secretfs.jar}, as the README says. */
        JAR,
        /** The launcher {@code dist/coco-secretfs}, with its JVM flags and GLIBC_TUNABLES. */
        LAUNCHER,
        /** {@code java} with the quick-start flags the mount tests use; for tests about behaviour only. */
        QUICK
    }

    public final Process process;
    public final Path mountPoint;
    private final Path log;

    private CocoDaemon(Process process, Path mountPoint, Path log) {
        this.process = process;
        this.mountPoint = mountPoint;
        this.log = log;
    }

    public static Path jar() {
        String jar = System.getProperty("coco.jar");
        assertThat(jar).as("system property coco.jar (set by failsafe)").isNotNull();
        return Path.of(jar).toAbsolutePath();
    }

    /** The launcher of the source tree the jar was built in, if that tree has one. */
    public static Optional<Path> launcher() {
        for (Path dir = jar().getParent(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("dist/coco-secretfs");
            if (Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** Skips, saying why, only where the machine has no FUSE at all. */
    public static void assumeFuse() {
        assumeTrue(Files.exists(Path.of("/dev/fuse")), "skipped: this machine has no /dev/fuse");
        assumeTrue(Files.isExecutable(Path.of("/bin/fusermount")) || Files.isExecutable(Path.of("/usr/bin/fusermount")),
                "skipped: fusermount (Debian package fuse) is not installed");
    }

    public static List<String> command(Start how, Path jar, List<String> args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>();
        switch (how) {
            case JAR -> cmd.addAll(List.of(java, "-jar", jar.toString()));
            case QUICK -> cmd.addAll(List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
                    "-jar", jar.toString()));
            case LAUNCHER -> cmd.add(launcher().orElseThrow().toString());
        }
        cmd.addAll(args);
        return cmd;
    }

    private static ProcessBuilder builder(Start how, Path jar, List<String> prefix, List<String> args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(command(how, jar, args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (how == Start.LAUNCHER) {
            pb.environment().put("COCO_SECRETFS_JAR", jar.toString());
            pb.environment().put("COCO_SECRETFS_JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
            pb.environment().put("COCO_SECRETFS_CDS_DIR", ""); // no archive: nothing built for this jar
        }
        return pb;
    }

    /** Output of a command run to completion. */
    public record Result(int exit, String out, String err) {
        /** The lines of stderr. */
        public List<String> errLines() {
            return err.lines().toList();
        }
    }

    /** Runs a command that ends by itself (pack, inspect). */
    public static Result run(String... args) throws IOException, InterruptedException {
        return runUnder(List.of(), args);
    }

    /** {@link #run} under a command such as prlimit; empty for none. */
    public static Result runUnder(List<String> prefix, String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile("coco-out", ".txt");
        Path err = Files.createTempFile("coco-err", ".txt");
        try {
            Process p = builder(Start.QUICK, jar(), prefix, List.of(args)).redirectOutput(out.toFile())
                    .redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            if (!p.waitFor(DEADLINE_MS, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("coco-secretfs " + String.join(" ", args) + " did not end");
            }
            return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /**
     * Starts {@code coco-secretfs mount --backing BACKING OPTIONS... MOUNTPOINT} and returns once the
     * mount is live; fails with the daemon's log if it dies first.
     *
     * @param jar the jar to run, {@link #jar()} but for a copy that another user can read
     * @param prefix a command to run the daemon under, such as setpriv; empty for none
     * @param env extra environment
     */
    public static CocoDaemon mount(Start how, Path jar, List<String> prefix, Map<String, String> env, Path backing,
            Path mountPoint, String... options) throws Exception {
        List<String> args = new ArrayList<>(List.of("mount", "--backing", backing.toString()));
        args.addAll(List.of(options));
        args.add(mountPoint.toString());
        Path log = Files.createTempFile("coco-daemon", ".log");
        ProcessBuilder pb = builder(how, jar, prefix, args).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().putAll(env);
        CocoDaemon d = new CocoDaemon(pb.start(), mountPoint.toRealPath(), log);
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        // The log line comes after the kernel's INIT: a dead mount left at the same place does not count.
        while (!d.isMounted() || !d.log().contains("coco-secretfs: mounted ")) {
            if (!d.process.isAlive()) {
                throw new AssertionError("mount exited with " + d.process.exitValue() + ": " + d.log());
            }
            if (System.currentTimeMillis() > deadline) {
                d.process.destroyForcibly();
                throw new AssertionError("mount did not appear: " + d.log());
            }
            Thread.sleep(20);
        }
        return d;
    }

    public static CocoDaemon mount(Start how, Path backing, Path mountPoint, String... options) throws Exception {
        return mount(how, jar(), List.of(), Map.of(), backing, mountPoint, options);
    }

    public long pid() {
        return process.pid();
    }

    public boolean isMounted() throws IOException {
        return MountTable.at(mountPoint).filter(m -> m.type().equals("fuse.coco-secretfs")).isPresent();
    }

    public String log() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    /**
     * Waits until no thread of the daemon is running or runnable for several samples in a row, so that
     * whatever a request left to do after its reply (libfuse frees the reply buffer after sending it)
     * is done. Gives up quietly after ten seconds: a busy JVM housekeeping thread must not hang the test.
     */
    public void awaitIdle() throws IOException, InterruptedException {
        awaitIdle(pid());
    }

    /** {@link #awaitIdle()} for any process. */
    public static void awaitIdle(long pid) throws IOException, InterruptedException {
        int quiet = 0;
        long deadline = System.currentTimeMillis() + 10_000;
        while (quiet < 5 && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
            quiet = anyThreadRunning(pid) ? 0 : quiet + 1;
        }
    }

    private static boolean anyThreadRunning(long pid) throws IOException {
        try (var tasks = Files.list(Path.of("/proc", String.valueOf(pid), "task"))) {
            for (Path task : tasks.toList()) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (IOException gone) {
                    continue; // the thread ended
                }
                // pid (comm) state ...: the comm may hold spaces and parentheses, the state follows the last ')'.
                char state = stat.charAt(stat.lastIndexOf(')') + 2);
                if (state == 'R') {
                    return true;
                }
            }
        }
        return false;
    }

    /** SIGTERM, then the exit code. */
    public int stop() throws IOException, InterruptedException {
        process.destroy();
        if (!process.waitFor(DEADLINE_MS, TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("daemon did not stop on SIGTERM: " + log());
        }
        return process.exitValue();
    }

    /** SIGKILL: leaves a dead mount behind. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** Stops the daemon if it still runs and clears whatever mount it left. */
    @Override
    public void close() throws IOException {
        try {
            if (process.isAlive()) {
                stop();
            }
            if (MountTable.at(mountPoint).isPresent()) {
                new ProcessBuilder("umount", "-l", mountPoint.toString()).start().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while stopping the daemon", e);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
