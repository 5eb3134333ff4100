// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Logging never waits for stderr: a stuck stream costs lines, counted, never a caller's time. */
class LogQueueTest {
    private static final Pattern DROPPED = Pattern.compile("dropped (\\d+) log lines");

    /** A stream whose first write blocks until released: stderr as a pipe nobody reads. */
    static final class StuckStream extends OutputStream {
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch blocked = new CountDownLatch(1);
        final ByteArrayOutputStream written = new ByteArrayOutputStream();

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            blocked.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            synchronized (written) {
                written.write(b, off, len);
            }
        }

        List<String> lines() {
            synchronized (written) {
                return written.toString(StandardCharsets.UTF_8).lines().toList();
            }
        }
    }

    @Test
    void aStuckStreamDropsAndCountsLinesAndNobodyWaits() throws Exception {
        StuckStream out = new StuckStream();
        LogQueue queue = new LogQueue(new Logs.LineFormatter(false), out);
        int published = LogQueue.CAPACITY * 5;
        // The first line reaches the stream and blocks the writer; the rest fill the queue and
        // overflow it. If publish waited for the stream, this loop would never end.
        queue.publish(record(0));
        assertThat(out.blocked.await(10, TimeUnit.SECONDS)).as("the writer is blocked in write").isTrue();
        for (int i = 1; i < published; i++) {
            queue.publish(record(i));
        }
        assertThat(queue.dropped()).isGreaterThanOrEqualTo(published - LogQueue.CAPACITY - 1L);

        out.release.countDown();
        assertThat(queue.awaitWritten(10_000)).as("the queue drains once the stream moves").isTrue();
        List<String> lines = out.lines();
        long wiped = lines.stream().filter(l -> l.startsWith("coco-secretfs: wiped secret ")).count();
        long dropped = 0;
        for (String line : lines) {
            Matcher m = DROPPED.matcher(line);
            if (m.find()) {
                assertThat(line).startsWith("coco-secretfs: warning: dropped ");
                dropped += Long.parseLong(m.group(1));
            }
        }
        assertThat(dropped).as("the count is logged once the log moves again").isPositive();
        assertThat(wiped + dropped).as("every line is either written or counted").isEqualTo(published);
        queue.close();
    }

    @Test
    void linesKeepTheirOrderAndFormat() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        LogQueue queue = new LogQueue(new Logs.LineFormatter(true), out);
        queue.publish(record(1));
        LogRecord warning = new LogRecord(Level.WARNING, "something {0}");
        warning.setParameters(new Object[] {"odd"});
        queue.publish(warning);
        assertThat(queue.awaitWritten(10_000)).isTrue();
        assertThat(out.toString(StandardCharsets.UTF_8).lines())
                .containsExactly("<6>wiped secret " + 1 + " (32 bytes)", "<4>something odd");
        queue.close();
    }

    private static LogRecord record(int i) {
        LogRecord r = new LogRecord(Level.INFO, "wiped secret {0} (32 bytes)");
        r.setParameters(new Object[] {String.valueOf(i)});
        return r;
    }
}
