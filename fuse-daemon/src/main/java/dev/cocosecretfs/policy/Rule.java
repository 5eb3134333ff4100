// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import static com.google.common.base.Preconditions.checkNotNull;

import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * The options of one line of a policy. What a line leaves out comes from the command line's
 * {@code --uid}, {@code --gid} and {@code --mode}.
 *
 * @param line the line's number in its file, from 1
 */
public record Rule(OptionalLong uid, OptionalLong gid, OptionalInt mode, Optional<String> name, boolean once,
        int line) {

    public Rule {
        checkNotNull(uid, "uid");
        checkNotNull(gid, "gid");
        checkNotNull(mode, "mode");
        checkNotNull(name, "name");
    }

    /** What this rule gives, with {@code fallback}'s owner, group and mode where it says nothing. */
    public Access apply(Access fallback) {
        return new Access(uid.orElse(fallback.uid()), gid.orElse(fallback.gid()), mode.orElse(fallback.mode()), name,
                once);
    }
}
