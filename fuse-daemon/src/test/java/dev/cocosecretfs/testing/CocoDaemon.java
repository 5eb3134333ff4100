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
 * The tests' one daemon runner: {@code coco-secretfs} in a child process, started the way users start
 * it. {@link #mount} starts a daemon and returns once its mount is live; it can start it through the
 * launcher, under another user ({@link Nobody#SETPRIV}) or with extra environment, and it knows the
 * daemon's pid (setpriv and the launcher both exec, so the pid is the daemon's). {@link #spawn} starts
 * a bare process instead, for tests that start several at once or leave stderr a pipe; {@link #run}
 * runs a command that ends by itself (pack, inspect, a mount that is refused).
 */
public final class CocoDaemon implements AutoCloseable {
    /** Upper bound for a mount to appear or a command to end; a hang fails the test instead of the build. */
    public static final long DEADLINE_MS = Result.DEADLINE_MS;

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

    /** Runs a command that ends by itself (pack, inspect), started the quick way. */
    public static Result run(String... args) throws IOException, InterruptedException {
        return run(Start.QUICK, args);
    }

    /** {@link #run} started {@code how}: the launcher, say, to run under its JVM flags. */
    public static Result run(Start how, String... args) throws IOException, InterruptedException {
        return Result.of(builder(how, jar(), List.of(), List.of(args)));
    }

    /** {@link #run} under a command such as prlimit; empty for none. */
    public static Result runUnder(List<String> prefix, String... args) throws IOException, InterruptedException {
        return Result.of(builder(Start.QUICK, jar(), prefix, List.of(args)));
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

    /** {@code coco-secretfs mount --backing BACKING MOUNTPOINT}, stdout and stderr to {@code log}. */
    public static Process spawn(Path backing, String mountPoint, Path log) throws IOException {
        return spawnBuilder(backing, mountPoint).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** The process {@link #spawn} starts, for a test that redirects its output otherwise. */
    public static ProcessBuilder spawnBuilder(Path backing, String mountPoint) {
        return new ProcessBuilder(command(Start.QUICK, jar(),
                List.of("mount", "--backing", backing.toString(), mountPoint)))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    }

    /** True once a coco-secretfs mount is at {@code where} and answers a listing. */
    public static boolean serving(Path where) throws IOException {
        if (MountTable.at(where).filter(m -> m.type().equals("fuse.coco-secretfs")).isEmpty()) {
            return false;
        }
        try (var names = Files.list(where)) {
            names.count();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Waits for {@link #serving}; fails with the log if the daemon dies first or time runs out. */
    public static void awaitServing(Process daemon, Path where, Path log) throws Exception {
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (!serving(where)) {
            if (!daemon.isAlive()) {
                throw new AssertionError("daemon exited with " + daemon.exitValue() + ": " + Files.readString(log));
            }
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("mount did not appear at " + where + ": " + Files.readString(log));
            }
            Thread.sleep(20);
        }
    }

    /** {@code kill -SIGNAL PID}, failing the test if kill fails. */
    public static void signal(long pid, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(pid)).inheritIO().start();
        if (!kill.waitFor(DEADLINE_MS, TimeUnit.MILLISECONDS) || kill.exitValue() != 0) {
            throw new AssertionError("kill -" + signal + " " + pid + " failed");
        }
    }

    /** SIGTERM and the exit code, within the deadline. */
    public static int stop(Process daemon) throws Exception {
        daemon.destroy();
        if (!daemon.waitFor(DEADLINE_MS, TimeUnit.MILLISECONDS)) {
            throw new AssertionError("daemon did not stop on SIGTERM");
        }
        return daemon.exitValue();
    }

    /** Kills what still runs (after SIGCONT, in case it was stopped) and lazily unmounts what is left at the paths. */
    public static void cleanUp(List<Process> daemons, Path... mountPoints) throws Exception {
        for (Process p : daemons) {
            if (p.isAlive()) {
                signal(p.pid(), "CONT");
                p.destroyForcibly();
                p.waitFor(DEADLINE_MS, TimeUnit.MILLISECONDS);
            }
        }
        for (Path where : mountPoints) {
            for (int i = 0; i < 4 && MountTable.at(where).isPresent(); i++) {
                new ProcessBuilder("umount", "-l", where.toString()).inheritIO().start().waitFor();
            }
        }
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
     * The log once it holds {@code text}; fails with the log if it does not within the deadline. A
     * line about a request (a wipe, a read error) is written by the log's own thread after the reply,
     * so a look at the log right after the call can come before it.
     */
    public String awaitLog(String text) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        String log = log();
        while (!log.contains(text)) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("the log never said \"" + text + "\": " + log);
            }
            Thread.sleep(20);
            log = log();
        }
        return log;
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
