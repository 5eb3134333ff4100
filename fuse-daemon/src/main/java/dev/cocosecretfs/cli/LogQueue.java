// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/**
 * A log handler that never makes its caller wait: a line is formatted on the caller's thread, put in a
 * bounded queue and written to stderr by a thread of its own. When the queue is full (stderr is a pipe
 * nobody drains: journald stuck or gone) the line is dropped and counted, and once a write goes
 * through again the count is logged too. A FUSE request that logs (every unlink does) therefore never
 * waits for the log: blocked there, it would hold the kernel's lock on the mount's directory and
 * with it every lookup, listing and stat of the mount.
 *
 * <p>The queue holds the formatted lines only, which are what the log shows (GUIDs, lengths and
 * offsets, never secret bytes).
 */
final class LogQueue extends Handler {
    /** Lines kept while stderr does not move: about 150 KB at the daemon's line lengths. */
    static final int CAPACITY = 1024;

    private final BlockingQueue<String> lines = new ArrayBlockingQueue<>(CAPACITY);
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong accepted = new AtomicLong();
    private final OutputStream out;
    private final Thread writer;
    private long written; // guarded by this
    private volatile boolean closed;

    LogQueue(Formatter formatter, OutputStream out) {
        setFormatter(formatter);
        this.out = out;
        this.writer = new Thread(this::drain, "log-writer");
        writer.setDaemon(true);
        writer.start();
    }

    /** Writing to the process's stderr (file descriptor 2), unbuffered. */
    LogQueue(Formatter formatter) {
        this(formatter, new FileOutputStream(FileDescriptor.err));
    }

    @Override
    public void publish(LogRecord record) {
        if (closed || !isLoggable(record)) {
            return;
        }
        String line;
        try {
            line = getFormatter().format(record);
        } catch (RuntimeException e) {
            reportError(null, e, java.util.logging.ErrorManager.FORMAT_FAILURE);
            return;
        }
        if (lines.offer(line)) {
            accepted.incrementAndGet();
        } else {
            dropped.incrementAndGet();
        }
    }

    private void drain() {
        while (!closed) {
            String line;
            try {
                line = lines.take();
            } catch (InterruptedException e) {
                continue; // closed, most likely: the loop's condition says
            }
            write(line);
            long lost = dropped.getAndSet(0);
            if (lost > 0) {
                LogRecord record = new LogRecord(Level.WARNING,
                        "dropped {0} log lines: the log (stderr) was not being read");
                record.setParameters(new Object[] {String.valueOf(lost)});
                write(getFormatter().format(record));
            }
            synchronized (this) {
                written++;
                notifyAll();
            }
        }
    }

    private void write(String line) {
        try {
            out.write(line.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // stderr closed: nothing can be told, and nobody must wait for it.
        }
    }

    /**
     * Waits until every line accepted so far is written, or {@code millis} have passed: for the last
     * lines before the process exits, which must not hang on a stuck stderr either.
     *
     * @return true if all of them were written
     */
    boolean awaitWritten(long millis) {
        long target = accepted.get();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        synchronized (this) {
            while (written < target) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        return true;
    }

    /** Lines dropped and not yet reported. */
    long dropped() {
        return dropped.get();
    }

    @Override
    public void flush() {
        // Never waits: see awaitWritten.
    }

    @Override
    public void close() {
        closed = true;
        writer.interrupt();
    }
}
