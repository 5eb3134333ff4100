// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import dev.cocosecretfs.fuse.MountTable;
import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretTable;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What the tests of one daemon per page and mount point share: pages of random secrets, daemons
 * started as bare processes (so that a test can start two at once, or leave stderr a pipe), signals,
 * and clearing whatever mount a test left.
 */
public final class Daemons {
    public static final long DEADLINE_MS = 60_000;
    private static final SecureRandom RANDOM = new SecureRandom();

    private Daemons() {}

    /** A page of {@code count} random secrets of {@code length} bytes; the names, in page order. */
    public static List<String> page(Path file, int count, int length, int pageSize) throws IOException {
        Map<Guid, ByteBuffer> table = new LinkedHashMap<>();
        while (table.size() < count) {
            byte[] secret = new byte[length];
            RANDOM.nextBytes(secret);
            table.put(new Guid(RANDOM.nextLong() & ~0xf000L | 0x4000L, RANDOM.nextLong() & ~(3L << 62) | 1L << 63),
                    ByteBuffer.wrap(secret));
        }
        Files.write(file, SecretTable.write(table, pageSize));
        List<String> names = new ArrayList<>();
        table.keySet().forEach(g -> names.add(g.toString()));
        return names;
    }

    /** {@code coco-secretfs mount --backing BACKING MOUNTPOINT}, stdout and stderr to {@code log}. */
    public static Process start(Path backing, String mountPoint, Path log) throws IOException {
        return builder(backing, mountPoint).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    public static ProcessBuilder builder(Path backing, String mountPoint) {
        return new ProcessBuilder(CocoDaemon.command(CocoDaemon.Start.QUICK, CocoDaemon.jar(),
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
}
