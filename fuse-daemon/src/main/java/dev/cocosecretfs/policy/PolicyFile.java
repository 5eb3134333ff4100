// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import static com.google.common.base.Preconditions.checkNotNull;

import java.nio.file.Path;

/**
 * Where the policy comes from: {@code mount --policy FILE} (it must exist) or {@code
 * --optional-policy FILE} (the unit's {@code /etc/coco-secretfs/policy}: absent means no policy).
 * Read at start and again at every SIGHUP.
 *
 * @param path the policy file
 * @param optional true if a missing file means no policy rather than an error
 */
public record PolicyFile(Path path, boolean optional) {

    public PolicyFile {
        checkNotNull(path, "path");
    }

    /**
     * Reads and checks the policy, resolving user and group names with {@code accounts}.
     *
     * @throws PolicyException the file cannot be read (exit 66), or a line is wrong (exit 65)
     */
    public Policy load(Accounts accounts) throws PolicyException {
        throw new UnsupportedOperationException("not yet: the parser lands next");
    }
}
