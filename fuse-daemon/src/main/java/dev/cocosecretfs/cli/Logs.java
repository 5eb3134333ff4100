// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Sends log lines to stderr, one line each. Under systemd (JOURNAL_STREAM set) every line starts with
 * its syslog priority, {@code <3>} to {@code <7>}, which journald turns into the entry's priority.
 */
final class Logs {
    /** How long the last lines may take to reach stderr before the process exits without them. */
    static final long EXIT_DRAIN_MILLIS = 2000;

    private static volatile LogQueue queue;

    private Logs() {}

    /** Sends the log to stderr through a {@link LogQueue}: logging never waits for stderr. */
    static void configure(boolean verbose) {
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        Level level = verbose ? Level.FINE : Level.INFO;
        LogQueue handler = new LogQueue(new LineFormatter(System.getenv("JOURNAL_STREAM") != null));
        handler.setLevel(level);
        root.addHandler(handler);
        root.setLevel(level);
        queue = handler;
    }

    /**
     * Waits, for at most {@link #EXIT_DRAIN_MILLIS}, until the lines logged so far are on stderr: before
     * a last line is written there directly, and before the process exits.
     */
    static void drain() {
        LogQueue q = queue;
        if (q != null) {
            q.awaitWritten(EXIT_DRAIN_MILLIS);
        }
    }

    /** One line per record; a stack trace only at debug level. */
    static final class LineFormatter extends Formatter {
        private final boolean journal;

        LineFormatter(boolean journal) {
            this.journal = journal;
        }

        @Override
        public String format(LogRecord record) {
            String message = formatMessage(record).replace('\n', ' ');
            StringBuilder line = new StringBuilder();
            int value = record.getLevel().intValue();
            if (journal) {
                line.append('<').append(priority(value)).append('>');
            } else {
                line.append("coco-secretfs: ");
                if (value >= Level.SEVERE.intValue()) {
                    line.append("error: ");
                } else if (value >= Level.WARNING.intValue()) {
                    line.append("warning: ");
                }
            }
            line.append(message);
            if (record.getThrown() != null && value < Level.INFO.intValue()) {
                line.append(": ").append(record.getThrown());
            }
            return line.append(System.lineSeparator()).toString();
        }

        static int priority(int level) {
            if (level >= Level.SEVERE.intValue()) {
                return 3;
            }
            if (level >= Level.WARNING.intValue()) {
                return 4;
            }
            if (level >= Level.INFO.intValue()) {
                return 6;
            }
            return 7;
        }
    }
}
