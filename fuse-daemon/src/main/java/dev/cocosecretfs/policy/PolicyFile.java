// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import static com.google.common.base.Preconditions.checkNotNull;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Where the policy comes from: {@code mount --policy FILE} (it must exist) or {@code
 * --optional-policy FILE} (the unit's {@code /etc/coco-secretfs/policy}: absent means no policy).
 * Read at start and again at every SIGHUP.
 *
 * @param path the policy file
 * @param optional true if a missing file means no policy rather than an error
 */
public record PolicyFile(Path path, boolean optional) {
    /** The largest policy read: far more than any page holds secrets for. */
    static final int MAX_BYTES = 1 << 20;

    public PolicyFile {
        checkNotNull(path, "path");
    }

    /**
     * Reads and checks the policy, resolving user and group names with {@code accounts}.
     *
     * @throws PolicyException the file cannot be read (exit 66), or a line is wrong (exit 65)
     */
    public Policy load(Accounts accounts) throws PolicyException {
        checkNotNull(accounts, "accounts");
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            if (optional) {
                return Policy.none();
            }
            throw new PolicyException(path, "no such file", PolicyException.EX_NOINPUT);
        } catch (IOException e) {
            throw new PolicyException(path, "cannot read it: " + reason(e), PolicyException.EX_NOINPUT);
        }
        if (!attributes.isRegularFile()) {
            throw new PolicyException(path, "not a regular file", PolicyException.EX_NOINPUT);
        }
        byte[] text;
        try (InputStream in = Files.newInputStream(path)) {
            text = in.readNBytes(MAX_BYTES + 1);
        } catch (IOException e) {
            throw new PolicyException(path, "cannot read it: " + reason(e), PolicyException.EX_NOINPUT);
        }
        if (text.length > MAX_BYTES) {
            throw new PolicyException(path, "larger than " + (MAX_BYTES >> 20) + " MiB; a policy is a short text",
                    PolicyException.EX_DATAERR);
        }
        return PolicyParser.parse(path, text, accounts);
    }

    private static String reason(IOException e) {
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
