// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretTable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code coco-secretfs pack}: write a page holding secrets, for development and tests. */
@Command(name = "pack", mixinStandardHelpOptions = true,
        description = {
            "Write a secret page in the efi_secret format: the table, then zeros to the page size.",
            "Each SECRET is GUID=@FILE, the bytes of FILE exactly (a trailing newline or NUL is part of the"
                + " secret), or GUID=@/dev/stdin, the bytes on standard input. GUID=TEXT (the UTF-8 bytes of"
                + " TEXT) puts the secret in the command line, which every user of the machine can read in"
                + " /proc: keep it for test data."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  printf %%s \"$PASSPHRASE\" | coco-secretfs pack --out page.bin \\",
            "      736869e5-84f0-4973-92ec-06879ce3da0b=@/dev/stdin",
            "    every byte and no more, as crypttab reads a key file;",
            "  printf '%%s\\0' \"$PASSPHRASE\" | coco-secretfs pack --out page.bin \\",
            "      736869e5-84f0-4973-92ec-06879ce3da0b=@/dev/stdin",
            "    NUL-terminated, as GRUB's efisecret wants the disk passphrase;",
            "  coco-secretfs pack --out page.bin --size 16384 \\",
            "      e6f5a162-d67f-4750-a67c-5d065f2a9910=@keys.json \\",
            "      1ee27366-0c87-43a6-af48-28543eaf7cb0=@kbs.json",
            "    binary or text files, each as it is;",
            "(printf is a shell builtin: the passphrase appears in no process's command line.)"
        })
final class PackCommand implements Callable<Integer> {
    static final int MAX_SIZE = 16 << 20;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Page file to write (mode 0600).")
    Path out;

    @Option(names = "--size", paramLabel = "BYTES", description = "Page size (default: ${DEFAULT-VALUE}).")
    int size = 4096;

    @Parameters(paramLabel = "SECRET", arity = "0..*", description = "GUID=@FILE, GUID=@/dev/stdin or (test data only) GUID=TEXT, in page order.")
    List<String> secrets = List.of();

    @Override
    public Integer call() throws CliException {
        if (size < SecretTable.HEADER_BYTES || size > MAX_SIZE) {
            throw new CliException(CliException.EX_USAGE, "--size " + size + ": must be between "
                    + SecretTable.HEADER_BYTES + " and " + MAX_SIZE + " bytes");
        }
        Map<Guid, ByteBuffer> table = new LinkedHashMap<>();
        for (int i = 0; i < secrets.size(); i++) {
            String secret = secrets.get(i);
            int eq = secret.indexOf('=');
            if (eq < 0) {
                // Never echo the argument: it may be the secret itself.
                throw new CliException(CliException.EX_USAGE, "secret argument " + (i + 1)
                        + ": expected GUID=TEXT or GUID=@FILE");
            }
            Guid guid;
            try {
                guid = Guid.parse(secret.substring(0, eq));
            } catch (IllegalArgumentException e) {
                throw new CliException(CliException.EX_USAGE, e.getMessage());
            }
            if (guid.isZero()) {
                throw new CliException(CliException.EX_USAGE, "GUID " + guid + " marks deleted entries; it cannot"
                        + " name a secret");
            }
            if (table.containsKey(guid)) {
                throw new CliException(CliException.EX_USAGE, "GUID " + guid + " is given twice");
            }
            table.put(guid, ByteBuffer.wrap(value(secret.substring(eq + 1))));
        }
        byte[] page;
        try {
            page = SecretTable.write(table, size);
        } catch (IllegalArgumentException e) {
            throw new CliException(CliException.EX_DATAERR, out + ": " + e.getMessage());
        } finally {
            table.values().forEach(b -> Arrays.fill(b.array(), (byte) 0));
        }
        try {
            write(out, page);
        } finally {
            Arrays.fill(page, (byte) 0);
        }
        return 0;
    }

    private static byte[] value(String spec) throws CliException {
        if (!spec.startsWith("@")) {
            return spec.getBytes(StandardCharsets.UTF_8);
        }
        Path file = Path.of(spec.substring(1));
        try {
            if (Files.isDirectory(file)) {
                throw new CliException(CliException.EX_NOINPUT, "secret file " + file + ": is a directory");
            }
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw Failures.input("secret file", file, e);
        }
    }

    /** Writes the page next to its destination, then renames it over: never a half-written page. */
    private static void write(Path out, byte[] page) throws CliException {
        Path absolute = out.toAbsolutePath();
        Path dir = absolute.getParent();
        if (Files.isDirectory(absolute)) {
            throw new CliException(CliException.EX_USAGE, "--out " + out + ": is a directory");
        }
        if (dir == null || !Files.isDirectory(dir)) {
            throw new CliException(CliException.EX_USAGE, "--out " + out + ": directory " + dir + " does not exist");
        }
        Path tmp = null;
        try {
            tmp = Files.createTempFile(dir, "." + absolute.getFileName(), ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.write(tmp, page);
            Files.move(tmp, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new CliException(CliException.EX_FAILURE, "--out " + out + ": cannot write: " + e.getMessage());
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    // Best effort: the rename normally consumed it.
                }
            }
        }
    }
}
