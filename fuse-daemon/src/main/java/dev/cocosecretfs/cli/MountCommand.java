// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import dev.cocosecretfs.fuse.Ownership;
import dev.cocosecretfs.policy.PolicyFile;
import dev.cocosecretfs.store.DeviceStore;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
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
    private static final Pattern DECIMAL = Pattern.compile("[0-9]+");
    private static final Pattern OCTAL = Pattern.compile("[0-7]{1,8}");

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

    @Option(names = "--dir-mode", paramLabel = "OCTAL",
            description = "Permission bits of the directory, which decide who may delete secrets: 0755 lets only"
                    + " its owner (--uid) delete, 1777 lets each file's owner delete their own (sticky, as /tmp),"
                    + " 0555 lets nobody but root. Default: derived from --mode, opened to everyone's search"
                    + " while a policy is in force.")
    String dirMode;

    @Option(names = "--policy", paramLabel = "FILE",
            description = "Give each secret its owner, group, mode, link name and once from FILE (see"
                    + " coco-secretfs(1), POLICY); re-read at SIGHUP. FILE must exist.")
    Path policy;

    @Option(names = "--optional-policy", paramLabel = "FILE",
            description = "As --policy, but a FILE that does not exist means no policy (the unit's"
                    + " /etc/coco-secretfs/policy).")
    Path optionalPolicy;

    @Option(names = "--allow-other",
            description = "Let users other than the one mounting in (FUSE's allow_other); modes still apply.")
    boolean allowOther;

    @Option(names = "--allow-weak-hardening",
            description = "Serve even if a hardening guard fails (no core dumps, not dumpable, freed memory"
                    + " overwritten): the operator accepts that secrets may then leak from the daemon's memory.")
    boolean allowWeakHardening;

    @Option(names = {"-v", "--verbose"}, description = "Log debugging detail.")
    boolean verbose;

    @Parameters(paramLabel = "MOUNTPOINT", description = "Empty directory to mount on.")
    Path mountPoint;

    @Override
    public Integer call() throws CliException {
        Logs.configure(verbose);
        Ownership ownership = ownership(uid, gid, mode, Optional.ofNullable(dirMode));
        Daemon.serve(backing, mountPoint, ownership, policyFile(), allowOther, allowWeakHardening, () -> { });
        return 0;
    }

    /**
     * Parses {@code mount}'s arguments without picocli, for the command that runs at every boot: building
     * picocli's model of the command line takes longer than the rest of start-up together, and its
     * classes (compiled for Java 5) cannot go into the class-data archive. Takes exactly the plain
     * forms ({@code --backing PATH} or {@code --backing=PATH}, the same for {@code --uid}, {@code --gid},
     * {@code --mode}, {@code --dir-mode}, {@code --policy} and {@code --optional-policy}; {@code --allow-other}; {@code --allow-weak-hardening}; {@code -v}/{@code
     * --verbose}; {@code --}; one mount
     * point), each option at most once, uid and gid in decimal. Anything else (help, an unknown,
     * repeated or malformed option, no or a second mount point) gives empty, and then picocli parses
     * the command line and says what is wrong in its usual words. MountCommandTest holds the two
     * parsers to the same result.
     */
    static Optional<MountCommand> parsePlain(List<String> args) {
        MountCommand command = new MountCommand();
        Set<String> seen = new HashSet<>();
        boolean positionalOnly = false;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (positionalOnly || !arg.startsWith("-")) {
                if (command.mountPoint != null || arg.isEmpty()) {
                    return Optional.empty();
                }
                command.mountPoint = Path.of(arg);
                continue;
            }
            if (arg.equals("--")) {
                positionalOnly = true;
                continue;
            }
            int eq = arg.indexOf('=');
            String name = eq < 0 ? arg : arg.substring(0, eq);
            String key = name.equals("-v") ? "--verbose" : name;
            if (!seen.add(key)) {
                return Optional.empty();
            }
            switch (key) {
                case "--allow-other", "--allow-weak-hardening", "--verbose" -> {
                    if (eq >= 0) {
                        return Optional.empty();
                    }
                    switch (key) {
                        case "--verbose" -> command.verbose = true;
                        case "--allow-other" -> command.allowOther = true;
                        default -> command.allowWeakHardening = true;
                    }
                }
                case "--backing", "--uid", "--gid", "--mode", "--dir-mode", "--policy", "--optional-policy" -> {
                    String value;
                    if (eq >= 0) {
                        value = arg.substring(eq + 1);
                    } else if (i + 1 < args.size() && !args.get(i + 1).startsWith("-")) {
                        value = args.get(++i);
                    } else {
                        return Optional.empty();
                    }
                    if (value.isEmpty()) {
                        return Optional.empty();
                    }
                    switch (key) {
                        case "--backing" -> command.backing = Path.of(value);
                        case "--mode" -> command.mode = value;
                        case "--dir-mode" -> command.dirMode = value;
                        case "--policy" -> command.policy = Path.of(value);
                        case "--optional-policy" -> command.optionalPolicy = Path.of(value);
                        default -> {
                            if (!DECIMAL.matcher(value).matches() || value.length() > 18) {
                                return Optional.empty();
                            }
                            if (key.equals("--uid")) {
                                command.uid = Long.parseLong(value);
                            } else {
                                command.gid = Long.parseLong(value);
                            }
                        }
                    }
                }
                default -> {
                    return Optional.empty();
                }
            }
        }
        return command.mountPoint == null ? Optional.empty() : Optional.of(command);
    }

    /** The policy file of {@code --policy} or {@code --optional-policy}, which exclude each other. */
    Optional<PolicyFile> policyFile() throws CliException {
        if (policy != null && optionalPolicy != null) {
            throw new CliException(CliException.EX_USAGE, "--policy and --optional-policy exclude each other");
        }
        if (policy != null) {
            return Optional.of(new PolicyFile(policy, false));
        }
        return optionalPolicy == null ? Optional.empty() : Optional.of(new PolicyFile(optionalPolicy, true));
    }

    /** Validates the ownership options, {@code --dir-mode} among them. */
    static Ownership ownership(long uid, long gid, String mode, Optional<String> dirMode) throws CliException {
        Ownership ownership;
        try {
            ownership = new Ownership(uid, gid, octal("--mode", mode));
        } catch (IllegalArgumentException e) {
            throw new CliException(CliException.EX_USAGE, e.getMessage());
        }
        if (dirMode.isEmpty()) {
            return ownership;
        }
        try {
            return ownership.withDirectoryMode(octal("--dir-mode", dirMode.get()));
        } catch (IllegalArgumentException e) {
            throw new CliException(CliException.EX_USAGE, "--dir-mode " + dirMode.get() + ": only permission bits"
                    + " and the sticky bit (0 to 01777) may be given");
        }
    }

    private static int octal(String option, String value) throws CliException {
        if (!OCTAL.matcher(value).matches()) {
            throw new CliException(CliException.EX_USAGE, option + " " + value + ": not an octal number");
        }
        return Integer.parseInt(value, 8);
    }
}
