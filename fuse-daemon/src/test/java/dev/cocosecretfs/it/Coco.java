// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cocosecretfs.fuse.MountTable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the built jar as users do: {@code java -jar coco-secretfs.jar ...} in a child process. */
final class Coco {
    /** Upper bound for a mount to appear; a hang fails the test instead of blocking the build. */
    private static final long MOUNT_DEADLINE_MS = 60_000;

    private Coco() {}

    static Path jar() {
        String jar = System.getProperty("coco.jar");
        assertThat(jar).as("system property coco.jar (set by failsafe)").isNotNull();
        return Path.of(jar);
    }

    /** Skips, saying why, only where the machine has no FUSE at all. */
    static void assumeFuse() {
        assumeTrue(Files.exists(Path.of("/dev/fuse")), "skipped: this machine has no /dev/fuse");
        assumeTrue(Files.isExecutable(Path.of("/bin/fusermount")) || Files.isExecutable(Path.of("/usr/bin/fusermount")),
                "skipped: fusermount (Debian package fuse) is not installed");
    }

    static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
                "-jar", jar().toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Result of a command run to completion. */
    record Result(int exit, String out, String err) {
        List<String> errLines() {
            return err.lines().toList();
        }
    }

    /** Runs a command that ends by itself (pack, inspect, a failing mount). */
    static Result run(String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile("coco-out", ".txt");
        Path err = Files.createTempFile("coco-err", ".txt");
        try {
            Process p = new ProcessBuilder(command(args)).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            if (!p.waitFor(MOUNT_DEADLINE_MS, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("coco-secretfs " + String.join(" ", args) + " did not end");
            }
            return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** A running {@code coco-secretfs mount}. */
    static final class Mounted implements AutoCloseable {
        final Process process;
        final Path mountPoint;
        final Path log;

        private Mounted(Process process, Path mountPoint, Path log) {
            this.process = process;
            this.mountPoint = mountPoint;
            this.log = log;
        }

        /** Starts a mount and returns once it is in the mount table; fails with the daemon's log if it dies. */
        static Mounted start(Path backing, Path mountPoint, String... options) throws Exception {
            List<String> args = new ArrayList<>(List.of("mount", "--backing", backing.toString()));
            args.addAll(List.of(options));
            args.add(mountPoint.toString());
            Path log = Files.createTempFile("coco-mount", ".log");
            Process p = new ProcessBuilder(command(args.toArray(new String[0])))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Mounted m = new Mounted(p, mountPoint.toRealPath(), log);
            long deadline = System.currentTimeMillis() + MOUNT_DEADLINE_MS;
            // The log line comes after the kernel's INIT: a dead mount left at the same place does not count.
            while (!m.isMounted() || !m.log().contains("coco-secretfs: mounted ")) {
                if (!p.isAlive()) {
                    throw new AssertionError("mount exited with " + p.exitValue() + ": " + m.log());
                }
                if (System.currentTimeMillis() > deadline) {
                    p.destroyForcibly();
                    throw new AssertionError("mount did not appear: " + m.log());
                }
                Thread.sleep(20);
            }
            return m;
        }

        boolean isMounted() throws IOException {
            return MountTable.at(mountPoint).filter(x -> x.type().equals("fuse.coco-secretfs")).isPresent();
        }

        String log() throws IOException {
            return Files.readString(log, StandardCharsets.UTF_8);
        }

        /** SIGTERM, then the exit code. */
        int stop() throws Exception {
            process.destroy();
            if (!process.waitFor(MOUNT_DEADLINE_MS, TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("daemon did not stop on SIGTERM: " + log());
            }
            return process.exitValue();
        }

        /** SIGKILL: leaves a dead mount behind. */
        void kill() throws Exception {
            process.destroyForcibly();
            process.waitFor();
        }

        @Override
        public void close() throws Exception {
            if (process.isAlive()) {
                stop();
            }
            if (MountTable.at(mountPoint).isPresent()) {
                new ProcessBuilder("umount", "-l", mountPoint.toString()).start().waitFor();
            }
            Files.deleteIfExists(log);
        }
    }
}
