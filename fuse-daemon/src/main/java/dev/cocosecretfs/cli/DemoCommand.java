// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import dev.cocosecretfs.fuse.Ownership;
import dev.cocosecretfs.platform.Native;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code coco-secretfs demo}: a page of realistic, freshly generated secrets, mounted for a try. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {
            "Write a page of freshly generated example secrets to a temporary directory, mount it at DIR as"
                + " the current user, print what to try, and unmount on Ctrl-C."
        })
final class DemoCommand implements Callable<Integer> {
    static final String LUKS = "736869e5-84f0-4973-92ec-06879ce3da0b";
    static final String KEY_BUNDLE = "e6f5a162-d67f-4750-a67c-5d065f2a9910";
    static final String KBS_RECORD = "1ee27366-0c87-43a6-af48-28543eaf7cb0";

    @Spec
    CommandSpec spec;

    @Option(names = "--allow-weak-hardening",
            description = "Serve even if a hardening guard fails (see mount --help).")
    boolean allowWeakHardening;

    @Parameters(paramLabel = "DIR", arity = "0..1", description = "Where to mount (default: ./coco-demo).")
    Path dir = Path.of("coco-demo");

    @Override
    public Integer call() throws CliException {
        Logs.configure(false);
        Path page = writePage();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            // Mounting reports what is wrong with the directory.
        }
        Ownership self = new Ownership(Native.libc().getuid(), Native.libc().getgid(), 0440);
        PrintWriter out = spec.commandLine().getOut();
        Path mount = dir.toAbsolutePath().normalize();
        Daemon.serve(page, dir, self, Optional.empty(), false, allowWeakHardening, () -> {
            out.printf("%nThree secrets from %s are mounted at %s. Try, in another terminal:%n%n", page, mount);
            out.printf("  ls -l %s%n", mount);
            out.printf("  cat %s/%s        # a key bundle%n", mount, KEY_BUNDLE);
            out.printf("  rm %s/%s         # zeroes the secret in the page%n", mount, KBS_RECORD);
            out.printf("  java -jar %s inspect %s   # the deleted entry is now wiped%n%n", jar(), page);
            out.printf("Press Ctrl-C here to unmount.%n");
            out.flush();
        });
        return 0;
    }

    /** Packs three secrets of the kinds seen in practice, with random key material. */
    private static Path writePage() throws CliException {
        SecureRandom random = new SecureRandom();
        byte[] passphrase = new byte[24];
        byte[] key = new byte[32];
        byte[] clientKey = new byte[32];
        random.nextBytes(passphrase);
        random.nextBytes(key);
        random.nextBytes(clientKey);
        Base64.Encoder b64 = Base64.getEncoder();
        // GRUB wants the disk passphrase NUL-terminated; the pack argument cannot hold a NUL, so a file does.
        String luks = HexFormat.of().formatHex(passphrase) + "\0";
        String bundle = "{\"kbs:///default/key/1\":\"" + b64.encodeToString(key) + "\"}";
        String record = "{\"client_id\":\"demo-" + HexFormat.of().formatHex(clientKey, 0, 4) + "\",\"key\":\""
                + b64.encodeToString(clientKey) + "\"}";
        try {
            Path tmp = Files.createTempDirectory("coco-demo-");
            Path luksFile = tmp.resolve("luks-passphrase");
            Files.writeString(luksFile, luks);
            Path page = tmp.resolve("page.bin");
            int rc = Main.run("pack", "--out", page.toString(), LUKS + "=@" + luksFile,
                    KEY_BUNDLE + "=" + bundle, KBS_RECORD + "=" + record);
            Files.delete(luksFile);
            if (rc != 0) {
                throw new CliException(rc, "could not write the demo page");
            }
            return page;
        } catch (IOException e) {
            throw new CliException(CliException.EX_FAILURE, "cannot write the demo page: " + e.getMessage());
        }
    }

    private static String jar() {
        String path = DemoCommand.class.getProtectionDomain().getCodeSource().getLocation().getPath();
        return List.of(path).get(0);
    }
}
