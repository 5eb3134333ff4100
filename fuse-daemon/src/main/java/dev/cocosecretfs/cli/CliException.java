// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

/** A command failed in a way the user can act on: one line of message and a sysexits code. */
final class CliException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Exit codes from sysexits.h. */
    static final int EX_USAGE = 64;
    static final int EX_DATAERR = 65;
    static final int EX_NOINPUT = 66;
    static final int EX_FAILURE = 1;

    private final int exitCode;

    CliException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }
}
