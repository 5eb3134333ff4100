// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cocosecretfs.table.Guid;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class PolicyFileTest {
    private static final String LUKS = "736869e5-84f0-4973-92ec-06879ce3da0b";
    private static final String KBS = "1ee27366-0c87-43a6-af48-28543eaf7cb0";
    private static final Access FALLBACK = Access.of(7, 8, 0440);

    /** A fixed account database: root, disk and kbs-client. */
    private static final Accounts ACCOUNTS = new Accounts() {
        private final Map<String, Long> users = Map.of("root", 0L, "kbs-client", 990L);
        private final Map<String, Long> groups = Map.of("root", 0L, "disk", 6L);

        @Override
        public OptionalLong uid(String name) {
            return users.containsKey(name) ? OptionalLong.of(users.get(name)) : OptionalLong.empty();
        }

        @Override
        public OptionalLong gid(String name) {
            return groups.containsKey(name) ? OptionalLong.of(groups.get(name)) : OptionalLong.empty();
        }
    };

    @TempDir
    Path dir;

    private Path write(String text) throws IOException {
        Path file = dir.resolve("policy");
        Files.writeString(file, text, StandardCharsets.UTF_8);
        return file;
    }

    private Policy load(String text) throws Exception {
        return new PolicyFile(write(text), false).load(ACCOUNTS);
    }

    private String error(String text) throws IOException {
        Path file = write(text);
        try {
            new PolicyFile(file, false).load(ACCOUNTS);
        } catch (PolicyException e) {
            assertThat(e.exitCode()).isEqualTo(65);
            assertThat(e.getMessage()).startsWith(file + ":");
            return e.getMessage().substring(file.toString().length() + 1);
        }
        throw new AssertionError("accepted: " + text);
    }

    @Test
    void theIssuesExampleGivesEachSecretItsLine() throws Exception {
        Policy policy = load("""
                # GUID or *                             options
                736869e5-84f0-4973-92ec-06879ce3da0b  name=luks-key owner=root group=disk mode=0440

                1EE27366-0C87-43A6-AF48-28543EAF7CB0  owner=kbs-client mode=0400 once   # the KBS token
                *                                     mode=0400
                """);
        assertThat(policy.inForce()).isTrue();
        assertThat(policy.access(Guid.parse(LUKS), FALLBACK))
                .isEqualTo(new Access(0, 6, 0440, Optional.of("luks-key"), false));
        assertThat(policy.access(Guid.parse(KBS), FALLBACK))
                .isEqualTo(new Access(990, 8, 0400, Optional.empty(), true));
        assertThat(policy.access(Guid.parse("00000000-0000-4000-8000-000000000001"), FALLBACK))
                .isEqualTo(new Access(7, 8, 0400, Optional.empty(), false));
        assertThat(policy.rules().get(Guid.parse(KBS)).line()).isEqualTo(4);
    }

    @Test
    void withoutAStarUnlistedSecretsGetTheCommandLine() throws Exception {
        Policy policy = load(LUKS + " mode=0400\n" + KBS + "\n");
        assertThat(policy.access(Guid.parse("00000000-0000-4000-8000-000000000001"), FALLBACK)).isEqualTo(FALLBACK);
        assertThat(policy.access(Guid.parse(KBS), FALLBACK)).isEqualTo(FALLBACK);
        assertThat(policy.access(Guid.parse(LUKS), FALLBACK)).isEqualTo(Access.of(7, 8, 0400));
    }

    @Test
    void anEmptyFileIsAPolicyThatListsNothing() throws Exception {
        Policy policy = load("# nothing yet\n\n   \n");
        assertThat(policy.inForce()).isTrue();
        assertThat(policy.rules()).isEmpty();
        assertThat(policy.defaults()).isEmpty();
    }

    @Test
    void starMayBeOnceAndNumbersNeedNoAccount() throws Exception {
        Policy policy = load("*\towner=4294967294 group=65534 mode=0 once\r\n");
        assertThat(policy.access(Guid.parse(LUKS), FALLBACK))
                .isEqualTo(new Access(4294967294L, 65534, 0, Optional.empty(), true));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', textBlock = """
            nonsense mode=0400                                    | 1: 'nonsense' is neither a GUID (8-4-4-4-12 hex digits) nor '*'
            736869e5-84f0-4973-92ec-06879ce3da0b colour=blue      | 1: unknown option 'colour=blue' (expected owner=, group=, mode=, name= or once)
            736869e5-84f0-4973-92ec-06879ce3da0b mode=0640        | 1: mode=0640: gives write permission; secrets are read-only (use at most 0440)
            736869e5-84f0-4973-92ec-06879ce3da0b mode=04440       | 1: mode=04440: only permission bits (0 to 0777) may be given
            736869e5-84f0-4973-92ec-06879ce3da0b mode=0x44        | 1: mode=0x44: not an octal number
            736869e5-84f0-4973-92ec-06879ce3da0b mode=0489        | 1: mode=0489: not an octal number
            736869e5-84f0-4973-92ec-06879ce3da0b owner=nosuchuser | 1: owner=nosuchuser: no such user
            736869e5-84f0-4973-92ec-06879ce3da0b group=nosuch     | 1: group=nosuch: no such group
            736869e5-84f0-4973-92ec-06879ce3da0b owner=4294967295 | 1: owner=4294967295: out of range (0 to 4294967294)
            736869e5-84f0-4973-92ec-06879ce3da0b owner=           | 1: owner= has an empty value
            736869e5-84f0-4973-92ec-06879ce3da0b owner            | 1: owner needs a value: owner=...
            736869e5-84f0-4973-92ec-06879ce3da0b once=yes         | 1: once takes no value (found 'once=yes')
            736869e5-84f0-4973-92ec-06879ce3da0b once once        | 1: once is given twice
            736869e5-84f0-4973-92ec-06879ce3da0b mode=0400 mode=0 | 1: mode= is given twice
            736869e5-84f0-4973-92ec-06879ce3da0b name=a/b         | 1: name=a/b: may use only letters, digits, '.', '-' and '_'
            736869e5-84f0-4973-92ec-06879ce3da0b name=..          | 1: name=..: not a file name
            * name=luks-key                                       | 1: name= cannot be given to '*' (a name belongs to one secret)
            """)
    void aWrongLineIsNamedWithWhatIsWrong(String line, String message) throws Exception {
        assertThat(error(line + "\n")).isEqualTo(message);
    }

    @Test
    void errorsCountLinesFromOneIncludingCommentsAndBlanks() throws Exception {
        assertThat(error("# a comment\n\n" + LUKS + " name=key\n" + KBS + " name=key\n"))
                .isEqualTo("4: name=key is used twice (also on line 3)");
        assertThat(error(LUKS + "\n# again\n" + LUKS.toUpperCase() + " mode=0400\n"))
                .isEqualTo("3: " + LUKS + " is listed twice (also on line 1)");
        assertThat(error("* mode=0400\n* mode=0440")).isEqualTo("2: a second '*' line (the first is line 1)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"736869E5-84F0-4973-92EC-06879CE3DA0B", "00000000-0000-0000-0000-000000000000"})
    void aNameShapedLikeAGuidIsRefused(String name) throws Exception {
        assertThat(error(LUKS + " name=" + name))
                .isEqualTo("1: name=" + name + ": shaped like a GUID, which names the secrets themselves");
    }

    @Test
    void namesAreAtMost255Characters() throws Exception {
        assertThat(load(LUKS + " name=" + "n".repeat(255)).access(Guid.parse(LUKS), FALLBACK).name())
                .contains("n".repeat(255));
        assertThat(error(LUKS + " name=" + "n".repeat(256))).isEqualTo("1: name=: longer than 255 characters");
    }

    @Test
    void controlCharactersAndBadUtf8AreRefused() throws Exception {
        assertThat(error(LUKS + " name=a\u0001b")).isEqualTo("1: a control character in 'name=a\\x01b'");
        Path file = dir.resolve("latin1");
        Files.write(file, (LUKS + " name=caf\u00e9\n").getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> new PolicyFile(file, false).load(ACCOUNTS))
                .isInstanceOf(PolicyException.class).hasMessage(file + ":1: not UTF-8 text");
    }

    @Test
    void aMissingFileIsAnErrorUnlessOptional() throws Exception {
        Path missing = dir.resolve("absent");
        assertThatThrownBy(() -> new PolicyFile(missing, false).load(ACCOUNTS))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.exitCode()).isEqualTo(66))
                .hasMessage(missing + ": no such file");
        Policy none = new PolicyFile(missing, true).load(ACCOUNTS);
        assertThat(none.inForce()).isFalse();
        assertThat(none.access(Guid.parse(LUKS), FALLBACK)).isEqualTo(FALLBACK);
    }

    @Test
    void aDirectoryOrAHugeFileIsRefused() throws Exception {
        assertThatThrownBy(() -> new PolicyFile(dir, true).load(ACCOUNTS))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.exitCode()).isEqualTo(66))
                .hasMessage(dir + ": not a regular file");
        Path huge = dir.resolve("huge");
        Files.writeString(huge, ("# " + "x".repeat(1022) + "\n").repeat(1025));
        assertThatThrownBy(() -> new PolicyFile(huge, false).load(ACCOUNTS))
                .isInstanceOfSatisfying(PolicyException.class, e -> assertThat(e.exitCode()).isEqualTo(65))
                .hasMessage(huge + ": larger than 1 MiB; a policy is a short text");
    }

    @Test
    void systemAccountsResolveThisMachinesUsersAndGroups() {
        SystemAccounts accounts = new SystemAccounts();
        assertThat(accounts.uid("root")).hasValue(0);
        assertThat(accounts.gid("root")).hasValue(0);
        assertThat(accounts.uid("nobody")).hasValue(65534);
        assertThat(accounts.uid("no-such-user-here")).isEmpty();
        assertThat(accounts.gid("no-such-group-here")).isEmpty();
    }
}
