// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableMap;
import dev.cocosecretfs.platform.FuseLowLevel.Attributes;
import dev.cocosecretfs.policy.Policy;
import dev.cocosecretfs.policy.Rule;
import dev.cocosecretfs.secrets.Secret;
import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretTable;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What SecretFs makes of a policy, without a mount: the attributes of each node, the links and where
 * readdir lists them, unlinking a link or its secret, a reload, and when a release wipes.
 */
@DisplayName("SecretFs with a policy")
class SecretFsPolicyTest {
    static final int S_IFDIR = 0040000;
    static final int S_IFREG = 0100000;
    static final int S_IFLNK = 0120000;

    @TempDir
    Path tmp;

    BackingStore store;
    SecretDirectory directory;
    /** The secrets' GUIDs in table order: a (with link "db"), b (link "token", once), c (not listed). */
    final List<Guid> guids = new ArrayList<>();
    Secret a;
    Secret b;
    Secret c;
    final Ownership ownership = new Ownership(0, 0, 0440);

    @BeforeEach
    void setUp() throws Exception {
        Map<Guid, ByteBuffer> secrets = new LinkedHashMap<>();
        // Table order differs from name order: the listing is by name, the node ids by table index.
        guids.add(new Guid(0x3000L, 1));
        guids.add(new Guid(0x1000L, 2));
        guids.add(new Guid(0x2000L, 3));
        for (int i = 0; i < guids.size(); i++) {
            secrets.put(guids.get(i), ByteBuffer.wrap(new byte[] {(byte) i, 1, 2, 3}));
        }
        Path page = tmp.resolve("page.bin");
        Files.write(page, SecretTable.write(secrets, 4096));
        store = Stores.open(page);
        directory = SecretDirectory.open(store);
        a = directory.lookup(guids.get(0).toString()).orElseThrow();
        b = directory.lookup(guids.get(1).toString()).orElseThrow();
        c = directory.lookup(guids.get(2).toString()).orElseThrow();
    }

    @AfterEach
    void tearDown() throws Exception {
        store.close();
    }

    static Rule rule(long uid, long gid, int mode, String name, boolean once, int line) {
        return new Rule(uid < 0 ? OptionalLong.empty() : OptionalLong.of(uid),
                gid < 0 ? OptionalLong.empty() : OptionalLong.of(gid),
                mode < 0 ? OptionalInt.empty() : OptionalInt.of(mode), Optional.ofNullable(name), once, line);
    }

    /** a: uid 1000 mode 0400 name db; b: gid 6 name token once; *: mode 0444. */
    Policy policy() {
        return new Policy(Optional.of(Path.of("/etc/coco-secretfs/policy")), ImmutableMap.of(
                guids.get(0), rule(1000, -1, 0400, "db", false, 1),
                guids.get(1), rule(-1, 6, -1, "token", true, 2),
                new Guid(0x9999L, 9), rule(5, 5, 0400, "absent", false, 3)),
                Optional.of(rule(-1, -1, 0444, null, false, 4)));
    }

    static String mode(Attributes attributes) {
        return Integer.toOctalString(attributes.mode());
    }

    /** Everything a listing from offset 0 gives, with the offset after each entry. */
    static List<String> listing(SecretFs fs, long from) {
        List<String> entries = new ArrayList<>();
        fs.list(from, (name, node, mode, next) -> entries.add(name + " " + Integer.toOctalString(mode) + " @" + next));
        return entries;
    }

    @Test
    @DisplayName("no policy: every file the command line's owner, group and mode, no links, the directory 0750")
    void noPolicy() {
        SecretFs fs = new SecretFs(directory, new Ownership(7, 8, 0440));
        for (Secret s : List.of(a, b, c)) {
            assertThat(fs.attributes(s)).isEqualTo(new Attributes(S_IFREG | 0440, 1, 7, 8, 4,
                    fs.attributes(s).time()));
        }
        assertThat(mode(fs.rootAttributes())).isEqualTo("40750");
        assertThat(fs.linkNamed("db")).isEmpty();
        assertThat(listing(fs, 0)).hasSize(5);
    }

    @Test
    @DisplayName("each file gets its line's owner, group and mode; the * line where it lists none; the rest from the command line")
    void perSecretAccess() {
        SecretFs fs = new SecretFs(directory, ownership, policy());
        Attributes fa = fs.attributes(a);
        assertThat(List.of(mode(fa), fa.uid(), fa.gid(), fa.size())).containsExactly("100400", 1000L, 0L, 4L);
        Attributes fb = fs.attributes(b);
        assertThat(List.of(mode(fb), fb.uid(), fb.gid())).containsExactly("100440", 0L, 6L);
        Attributes fc = fs.attributes(c);
        assertThat(List.of(mode(fc), fc.uid(), fc.gid())).containsExactly("100444", 0L, 0L);
        // A policy in force opens the derived directory to group and other, so that they reach their files.
        assertThat(mode(fs.rootAttributes())).isEqualTo("40755");
        assertThat(mode(new SecretFs(directory, ownership.withDirectoryMode(01777), policy()).rootAttributes()))
                .isEqualTo("41777");
    }

    @Test
    @DisplayName("a link: 0777 symlink owned as its secret, its target's length as size, found by name and node id")
    void links() {
        SecretFs fs = new SecretFs(directory, ownership, policy());
        assertThat(fs.linkNamed("db")).contains(a);
        assertThat(fs.linkNamed("token")).contains(b);
        assertThat(fs.linkNamed("absent")).isEmpty();
        assertThat(fs.linkNamed(a.name())).isEmpty();
        assertThat(fs.linked(SecretFs.linkNode(a.index()))).contains(a);
        assertThat(SecretFs.linkNode(a.index())).isEqualTo((1L << 32) + a.index() + 2);
        assertThat(fs.linked(SecretFs.linkNode(c.index()))).as("c has no link").isEmpty();
        assertThat(fs.linked(SecretFs.node(a.index()))).as("a secret's node is no link").isEmpty();
        Attributes la = fs.linkAttributes(a);
        assertThat(List.of(mode(la), la.uid(), la.gid(), la.size())).containsExactly("120777", 1000L, 0L, 36L);
        Attributes lb = fs.linkAttributes(b);
        assertThat(List.of(lb.uid(), lb.gid())).containsExactly(0L, 6L);
    }

    @Test
    @DisplayName("readdir: ., .., the secrets by name, then the links at their secrets' positions plus the count")
    void listsLinksAfterTheSecrets() {
        SecretFs fs = new SecretFs(directory, ownership, policy());
        // Name order: b (0x1000), c (0x2000), a (0x3000); positions 0-2 at offsets 2-4, links at 5-7.
        assertThat(listing(fs, 0)).containsExactly(". 40000 @1", ".. 40000 @2", b.name() + " 100000 @3",
                c.name() + " 100000 @4", a.name() + " 100000 @5", "token 120000 @6", "db 120000 @8");
        assertThat(listing(fs, 6)).as("resumed after token").containsExactly("db 120000 @8");
        assertThat(listing(fs, 8)).isEmpty();
    }

    @Test
    @DisplayName("unlinking a link removes only the link; its offset does not move the others; a reload brings it back")
    void unlinkALink() {
        SecretFs fs = new SecretFs(directory, ownership, policy());
        assertThat(fs.removeLink("token")).isTrue();
        assertThat(fs.removeLink("token")).as("gone already").isFalse();
        assertThat(fs.removeLink("nothing")).isFalse();
        assertThat(fs.linkNamed("token")).isEmpty();
        assertThat(fs.linked(SecretFs.linkNode(b.index()))).isEmpty();
        assertThat(directory.isLive(b)).as("the secret stays").isTrue();
        assertThat(listing(fs, 0)).containsExactly(". 40000 @1", ".. 40000 @2", b.name() + " 100000 @3",
                c.name() + " 100000 @4", a.name() + " 100000 @5", "db 120000 @8");

        fs.reload(policy());
        assertThat(fs.linkNamed("token")).contains(b);
    }

    @Test
    @DisplayName("wiping a secret removes its link")
    void wipeRemovesTheLink() throws Exception {
        SecretFs fs = new SecretFs(directory, ownership, policy());
        directory.wipe(a.name());
        assertThat(fs.linkNamed("db")).isEmpty();
        assertThat(fs.linked(SecretFs.linkNode(a.index()))).isEmpty();
        assertThat(fs.removeLink("db")).isFalse();
        assertThat(listing(fs, 0)).containsExactly(". 40000 @1", ".. 40000 @2", b.name() + " 100000 @3",
                c.name() + " 100000 @4", "token 120000 @6");
        fs.reload(policy());
        assertThat(fs.linkNamed("db")).as("a reload does not bring back a wiped secret's link").isEmpty();
    }

    @Test
    @DisplayName("a reload swaps owners, modes and names at once; back to no policy, back to the command line")
    void reload() {
        SecretFs fs = new SecretFs(directory, ownership, policy());
        Policy next = new Policy(Optional.of(Path.of("/etc/coco-secretfs/policy")), ImmutableMap.of(
                guids.get(2), rule(65534, 65534, 0440, "renamed", false, 1)), Optional.empty());
        fs.reload(next);
        assertThat(fs.policy()).isSameAs(next);
        assertThat(fs.linkNamed("db")).isEmpty();
        assertThat(fs.linkNamed("renamed")).contains(c);
        assertThat(fs.attributes(a).mode()).isEqualTo(S_IFREG | 0440);
        assertThat(fs.attributes(c).uid()).isEqualTo(65534);
        fs.reload(Policy.none());
        assertThat(fs.linkNamed("renamed")).isEmpty();
        assertThat(fs.attributes(c).uid()).isZero();
        assertThat(mode(fs.rootAttributes())).isEqualTo("40750");
    }

    @Test
    @DisplayName("release wipes only a once secret, and only after the open returned every byte from the start")
    void onceAtRelease() {
        SecretFs fs = new SecretFs(directory, ownership, policy());
        OpenSecret none = new OpenSecret(b, SecretFs.node(b.index()));
        assertThat(fs.wipesAtRelease(none)).as("nothing read").isFalse();
        OpenSecret partial = new OpenSecret(b, SecretFs.node(b.index()));
        partial.returned(0, 3);
        assertThat(fs.wipesAtRelease(partial)).as("3 of 4 bytes").isFalse();
        OpenSecret tail = new OpenSecret(b, SecretFs.node(b.index()));
        tail.returned(1, 3);
        assertThat(fs.wipesAtRelease(tail)).as("all but the first byte").isFalse();
        OpenSecret whole = new OpenSecret(b, SecretFs.node(b.index()));
        whole.returned(0, 2);
        whole.returned(2, 2);
        assertThat(fs.wipesAtRelease(whole)).as("all of it, in two reads").isTrue();
        OpenSecret notOnce = new OpenSecret(a, SecretFs.node(a.index()));
        notOnce.returned(0, 4);
        assertThat(fs.wipesAtRelease(notOnce)).as("a is not once").isFalse();
    }

    @Nested
    @DisplayName("once on the * line")
    class OnceByDefault {
        @Test
        @DisplayName("applies to the secrets the policy does not list")
        void defaults() {
            Policy policy = new Policy(Optional.of(Path.of("/p")), ImmutableMap.of(
                    guids.get(0), rule(-1, -1, 0400, null, false, 1)), Optional.of(rule(-1, -1, -1, null, true, 2)));
            SecretFs fs = new SecretFs(directory, ownership, policy);
            OpenSecret ofA = new OpenSecret(a, SecretFs.node(a.index()));
            ofA.returned(0, 4);
            OpenSecret ofC = new OpenSecret(c, SecretFs.node(c.index()));
            ofC.returned(0, 4);
            assertThat(fs.wipesAtRelease(ofA)).as("a's own line says nothing of once").isFalse();
            assertThat(fs.wipesAtRelease(ofC)).isTrue();
        }
    }
}
