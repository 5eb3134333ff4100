// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import dev.cocosecretfs.fuse.MountException;
import dev.cocosecretfs.table.TableFormatException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Turns what went wrong into the one line and exit code the user gets. */
final class Failures {
    private Failures() {}

    /** A failure to open or read an input (page, device or secret file). */
    static CliException input(String role, Path path, IOException e) {
        if (e instanceof NoSuchFileException) {
            return new CliException(CliException.EX_NOINPUT, role + " " + path + ": no such file or device");
        }
        if (e instanceof AccessDeniedException) {
            return new CliException(CliException.EX_NOINPUT, role + " " + path + ": permission denied");
        }
        if (e instanceof FileSystemException fse && fse.getReason() != null) {
            return new CliException(CliException.EX_NOINPUT, role + " " + path + ": " + fse.getReason());
        }
        if (e instanceof MountException) {
            return new CliException(CliException.EX_FAILURE, e.getMessage());
        }
        return new CliException(CliException.EX_NOINPUT, role + " " + path + ": " + e.getMessage());
    }

    /** A page whose table is corrupt. */
    static CliException table(Path path, TableFormatException e) {
        return new CliException(CliException.EX_DATAERR, path + ": " + e.getMessage());
    }
}
