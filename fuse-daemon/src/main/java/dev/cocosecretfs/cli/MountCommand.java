// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import dev.cocosecretfs.fuse.Ownership;
import dev.cocosecretfs.store.DeviceStore;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code coco-secretfs mount}: serve the secrets of a page or device as files. */
@Command(name = "mount", mixinStandardHelpOptions = true,
        description = {
            "Mount the secrets of BACKING at MOUNTPOINT and stay in the foreground until SIGTERM or SIGINT,"
                + " then unmount and exit 0.",
            "Reading a file gives its secret; deleting it zeroes the secret in BACKING."
        })
final class MountCommand implements Callable<Integer> {

    @Option(names = "--backing", paramLabel = "PATH",
            description = "Device or page file holding the secret area (default: ${DEFAULT-VALUE}).")
    Path backing = DeviceStore.DEFAULT_PATH;

    @Option(names = "--uid", paramLabel = "N", description = "Owner of the files and the directory (default: 0).")
    long uid = Ownership.DEFAULT.uid();

    @Option(names = "--gid", paramLabel = "N", description = "Group of the files and the directory (default: 0).")
    long gid = Ownership.DEFAULT.gid();

    @Option(names = "--mode", paramLabel = "OCTAL",
            description = "Permission bits of the files (default: 0440). The directory gets the same bits,"
                    + " plus search where read is allowed and write for its owner (0440 gives 0750).")
    String mode = "0440";

    @Option(names = "--allow-other",
            description = "Let users other than the one mounting in (FUSE's allow_other); modes still apply.")
    boolean allowOther;

    @Option(names = {"-v", "--verbose"}, description = "Log debugging detail.")
    boolean verbose;

    @Parameters(paramLabel = "MOUNTPOINT", description = "Empty directory to mount on.")
    Path mountPoint;

    @Override
    public Integer call() throws CliException {
        Logs.configure(verbose);
        Ownership ownership = ownership(uid, gid, mode);
        Daemon.serve(backing, mountPoint, ownership, allowOther, () -> { });
        return 0;
    }

    /** Validates the ownership options. */
    static Ownership ownership(long uid, long gid, String mode) throws CliException {
        int bits;
        try {
            bits = Integer.parseInt(mode, 8);
        } catch (NumberFormatException e) {
            throw new CliException(CliException.EX_USAGE, "--mode " + mode + ": not an octal number");
        }
        try {
            return new Ownership(uid, gid, bits);
        } catch (IllegalArgumentException e) {
            throw new CliException(CliException.EX_USAGE, e.getMessage());
        }
    }
}
