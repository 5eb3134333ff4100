// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import static com.google.common.base.Preconditions.checkNotNull;

import com.google.common.collect.ImmutableMap;
import dev.cocosecretfs.table.Guid;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Who gets which secret: one {@link Rule} per GUID the policy lists, and the {@code *} rule for the
 * secrets it does not list. A listed secret gets exactly what its line says; a secret not listed
 * gets the {@code *} line's options; what either leaves out comes from the command line's
 * {@code --uid}, {@code --gid} and {@code --mode} (the fallback). Immutable: a reload makes a new one.
 */
public final class Policy {
    private static final Policy NONE = new Policy(Optional.empty(), ImmutableMap.of(), Optional.empty());

    private final Optional<Path> source;
    private final ImmutableMap<Guid, Rule> rules;
    private final Optional<Rule> defaults;

    public Policy(Optional<Path> source, ImmutableMap<Guid, Rule> rules, Optional<Rule> defaults) {
        this.source = checkNotNull(source, "source");
        this.rules = checkNotNull(rules, "rules");
        this.defaults = checkNotNull(defaults, "defaults");
    }

    /** No policy: every secret gets the command line's owner, group and mode. */
    public static Policy none() {
        return NONE;
    }

    /** The file this policy was read from, if any. */
    public Optional<Path> source() {
        return source;
    }

    /**
     * True if a policy file is in force (even one that lists nothing): the directory then opens to
     * group and other, so that each secret's own mode decides who reads it.
     */
    public boolean inForce() {
        return source.isPresent();
    }

    /** The rules of the GUIDs the policy lists. */
    public ImmutableMap<Guid, Rule> rules() {
        return rules;
    }

    /** The {@code *} rule, if any. */
    public Optional<Rule> defaults() {
        return defaults;
    }

    /** What the secret {@code guid} gets, with {@code fallback} where the policy says nothing. */
    public Access access(Guid guid, Access fallback) {
        Rule rule = rules.get(guid);
        if (rule == null) {
            rule = defaults.orElse(null);
        }
        return rule == null ? fallback : rule.apply(fallback);
    }
}
