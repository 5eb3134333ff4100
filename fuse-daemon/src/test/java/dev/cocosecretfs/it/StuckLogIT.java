// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.SecretPage;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stuck log never freezes the mount: with the daemon's stderr a pipe that nobody reads (journald
 * stuck), unlinks, reads, stats and listings all go on. Every unlink logs a line, and the kernel
 * holds the directory's lock through an unlink, so one unlink waiting on stderr would hold every
 * lookup of the mount.
 */
class StuckLogIT {
    /** 3,000 unlinks log about 330 KB: the 64 KiB pipe five times over, and the daemon's queue too. */
    static final int SECRETS = 6000;
    static final int UNLINKS = SECRETS / 2;
    private static final Pattern DROPPED = Pattern.compile("dropped (\\d+) log lines");

    @TempDir
    Path tmp;

    /** Lines of unlinks written, and lines dropped as the "dropped N log lines" lines count them. */
    private static long[] count(List<String> lines) {
        long wiped = 0;
        long dropped = 0;
        synchronized (lines) {
            for (String line : lines) {
                if (line.startsWith("coco-secretfs: wiped secret ")) {
                    wiped++;
                }
                Matcher m = DROPPED.matcher(line);
                if (m.find()) {
                    dropped += Long.parseLong(m.group(1));
                }
            }
        }
        return new long[] {wiped, dropped};
    }

    @Test
    void unlinksAndReadsGoOnWhileNobodyReadsTheLog() throws Exception {
        CocoDaemon.assumeFuse();
        Path page = tmp.resolve("page.bin");
        SecretPage secrets = SecretPage.randomLengths(SECRETS, 8, 8, 256 << 10);
        secrets.write(page);
        List<String> names = secrets.names;
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        // stderr stays a pipe (ProcessBuilder's default) that this test does not read until the end.
        Process daemon = CocoDaemon.spawnBuilder(page, mnt.toString()).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        ExecutorService callers = Executors.newSingleThreadExecutor();
        try {
            Path noLog = tmp.resolve("none.log");
            Files.writeString(noLog, "(stderr is the pipe under test)");
            CocoDaemon.awaitServing(daemon, mnt, noLog);
            Future<Integer> work = callers.submit(() -> {
                int read = 0;
                for (int i = 0; i < SECRETS; i++) {
                    Path file = mnt.resolve(names.get(i));
                    if (i % 2 == 0) {
                        Files.delete(file);
                    } else {
                        read += Files.readAllBytes(file).length == 8 ? 1 : 0;
                    }
                    if (i % 500 == 0) {
                        try (var listing = Files.list(mnt)) {
                            listing.count();
                        }
                        Files.size(mnt.resolve(names.get(SECRETS - 1)));
                    }
                }
                return read;
            });
            assertThat(work.get(CocoDaemon.DEADLINE_MS, TimeUnit.MILLISECONDS))
                    .as("every read gave a whole secret").isEqualTo(SECRETS - UNLINKS);
            try (var left = Files.list(mnt)) {
                assertThat(left.count()).isEqualTo(SECRETS - UNLINKS);
            }

            // Now the log moves again: read it until every unlink is accounted for, written or counted.
            List<String> lines = Collections.synchronizedList(new ArrayList<>());
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(
                        new InputStreamReader(daemon.getErrorStream(), StandardCharsets.UTF_8))) {
                    for (String line = r.readLine(); line != null; line = r.readLine()) {
                        lines.add(line);
                    }
                } catch (java.io.IOException e) {
                    // The daemon exited and Process closed the pipe under this read: all that counts was read.
                }
            });
            reader.setDaemon(true);
            reader.start();
            long deadline = System.currentTimeMillis() + CocoDaemon.DEADLINE_MS;
            long[] counts = count(lines);
            while (counts[0] + counts[1] < UNLINKS && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
                counts = count(lines);
            }
            assertThat(counts[1]).as("the dropped lines are counted and the count logged").isPositive();
            assertThat(counts[0] + counts[1]).as("every unlink's line is written or counted").isEqualTo(UNLINKS);
            synchronized (lines) {
                for (String line : lines) {
                    if (DROPPED.matcher(line).find()) {
                        assertThat(line).startsWith("coco-secretfs: warning: dropped ");
                    }
                }
            }
            assertThat(CocoDaemon.stop(daemon)).isZero();
            assertThat(CocoDaemon.serving(mnt)).isFalse();
        } finally {
            callers.shutdownNow();
            CocoDaemon.cleanUp(List.of(daemon), mnt);
        }
    }
}
