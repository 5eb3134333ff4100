// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import java.nio.file.Path;

/**
 * A policy that cannot be used; the message is {@code FILE:LINE: what is wrong} (LINE is absent
 * when the file as a whole cannot be read).
 */
public final class PolicyException extends Exception {
    private static final long serialVersionUID = 1L;

    /** sysexits.h: the policy's content is wrong. */
    public static final int EX_DATAERR = 65;
    /** sysexits.h: the policy cannot be read. */
    public static final int EX_NOINPUT = 66;

    private final int exitCode;

    public PolicyException(Path file, int line, String message) {
        super(file + ":" + line + ": " + message);
        this.exitCode = EX_DATAERR;
    }

    public PolicyException(Path file, String message, int exitCode) {
        super(file + ": " + message);
        this.exitCode = exitCode;
    }

    /** The exit code of a command that stops on this. */
    public int exitCode() {
        return exitCode;
    }
}
