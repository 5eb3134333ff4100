// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The exit code and output of a command run to completion. Stdout is kept as bytes, since it can be
 * a secret to compare without decoding; a test must not print it.
 *
 * @param stdout what the command wrote on stdout
 * @param err what it wrote on stderr, as UTF-8
 */
public record Result(int exit, byte[] stdout, String err) {
    /** Upper bound for a command to end: a hang fails the test instead of the build. */
    static final long DEADLINE_MS = 90_000;

    /** Stdout as UTF-8, for commands whose output is text (pack, inspect, ls). */
    public String out() {
        return new String(stdout, StandardCharsets.UTF_8);
    }

    /** The lines of stderr. */
    public List<String> errLines() {
        return err.lines().toList();
    }

    /** Runs {@code command} with stdin from /dev/null. */
    public static Result of(List<String> command) throws IOException, InterruptedException {
        return of(new ProcessBuilder(command));
    }

    /**
     * Runs {@code pb} to completion, stdin from /dev/null, its output through files (a pipe nobody
     * drains while the command runs could block it); fails if it does not end within the deadline.
     */
    public static Result of(ProcessBuilder pb) throws IOException, InterruptedException {
        Path out = Files.createTempFile("coco-out", ".txt");
        Path err = Files.createTempFile("coco-err", ".txt");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            if (!p.waitFor(DEADLINE_MS, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", pb.command()) + " did not end");
            }
            return new Result(p.exitValue(), Files.readAllBytes(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
