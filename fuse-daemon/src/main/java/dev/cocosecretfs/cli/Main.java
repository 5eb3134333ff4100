// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Optional;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code coco-secretfs}: mount, pack, inspect and demo. */
@Command(name = "coco-secretfs",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Confidential-computing secrets as a directory of files named by GUID.",
        subcommands = {
            MountCommand.class, PackCommand.class, InspectCommand.class, DemoCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        int code = run(args);
        Logs.drain();
        System.exit(code);
    }

    /** Runs the command line and returns the exit code. */
    static int run(String... args) {
        return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    /** Runs the command line with the given output streams and returns the exit code. */
    static int run(PrintWriter out, PrintWriter err, String... args) {
        try {
            if (args.length > 0 && args[0].equals("mount")) {
                // The boot path: a plain mount command line skips picocli (see MountCommand.parsePlain).
                Optional<MountCommand> mount = MountCommand.parsePlain(Arrays.asList(args).subList(1, args.length));
                if (mount.isPresent()) {
                    return call(mount.get(), err);
                }
            }
            return runPicocli(out, err, args);
        } catch (Throwable t) {
            // An Error (a native library that cannot load, no memory left, ...): one line, not a stack trace.
            fail(err, "internal error: " + t);
            return CliException.EX_FAILURE;
        }
    }

    /** Runs a command parsed without picocli, with the same handling of its failures. */
    private static int call(MountCommand command, PrintWriter err) {
        try {
            return command.call();
        } catch (CliException e) {
            fail(err, e.getMessage());
            return e.exitCode();
        } catch (RuntimeException e) {
            fail(err, "internal error: " + e);
            return CliException.EX_FAILURE;
        }
    }

    private static int runPicocli(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((e, ignored) -> {
            fail(e.getCommandLine().getErr(), e.getMessage() + " (see '"
                    + e.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return CliException.EX_USAGE;
        });
        cl.setExecutionExceptionHandler((e, commandLine, ignored) -> {
            if (e instanceof CliException ce) {
                fail(commandLine.getErr(), ce.getMessage());
                return ce.exitCode();
            }
            if (e instanceof CommandLine.ParameterException pe) {
                fail(commandLine.getErr(), pe.getMessage());
                return CliException.EX_USAGE;
            }
            fail(commandLine.getErr(), "internal error: " + e);
            return CliException.EX_FAILURE;
        });
        return cl.execute(args);
    }

    private static void fail(PrintWriter err, String message) {
        Logs.drain(); // the log's last lines first
        err.println("coco-secretfs: " + message);
        err.flush();
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required: mount, pack, inspect or demo");
    }

    /** The version from the build. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties props = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("/coco-secretfs-version.properties")) {
                if (in != null) {
                    props.load(in);
                }
            }
            return new String[] {"coco-secretfs " + props.getProperty("version", "unknown")};
        }
    }
}
