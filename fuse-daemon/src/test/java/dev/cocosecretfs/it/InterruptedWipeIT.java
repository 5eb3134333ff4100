// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cocosecretfs.testing.CocoDaemon;
import dev.cocosecretfs.testing.Result;
import dev.cocosecretfs.testing.SecretPage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A page left by a wipe cut short (its GUID's first 8 bytes zero, part of its data zero): {@code
 * inspect} says {@code wiping}, a mount never serves the entry, and a mount that may write finishes
 * the wipe and logs it; a read-only one leaves it and says so.
 */
@DisplayName("a wipe cut short, through the commands")
class InterruptedWipeIT {
    @TempDir
    Path tmp;

    SecretPage page;
    Path backing;
    Path mnt;
    /** The entry the cut-short wipe hit, and the name efi_secret would give it. */
    String victim;
    String halfZeroName;

    @BeforeEach
    void setUp() throws Exception {
        CocoDaemon.assumeFuse();
        page = SecretPage.random(3, 40, 4096);
        byte[] cut = page.bytes.clone();
        int at = (int) page.entries.get(1).offset();
        Arrays.fill(cut, at, at + 8, (byte) 0); // step 1: the mark
        Arrays.fill(cut, at + 20, at + 20 + 13, (byte) 0); // step 2, cut short after 13 bytes
        backing = tmp.resolve("page.bin");
        Files.write(backing, cut);
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        victim = page.names.get(1);
        halfZeroName = "00000000-0000-0000-" + victim.substring(19);
    }

    String[] listing() throws Exception {
        try (Stream<Path> s = Files.list(mnt)) {
            return s.map(p -> p.getFileName().toString()).sorted().toArray(String[]::new);
        }
    }

    @Test
    @DisplayName("inspect shows wiping; the mount finishes the wipe, logs it and serves only the others")
    void finishedByTheNextMount() throws Exception {
        Result text = CocoDaemon.run("inspect", backing.toString());
        assertThat(text.exit()).isZero();
        assertThat(text.out()).contains("3 entries (2 live, 1 wiping, 0 wiped)");
        assertThat(text.out().lines().filter(l -> l.contains(halfZeroName))).singleElement()
                .satisfies(l -> assertThat(l).endsWith("  wiping"));
        Result json = CocoDaemon.run("inspect", "--json", backing.toString());
        assertThat(json.out()).contains("\"guid\":\"" + halfZeroName + "\",\"entryLength\":60,\"dataOffset\":"
                + page.entries.get(1).dataOffset() + ",\"length\":40,\"state\":\"wiping\"");

        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            assertThat(d.log()).contains("entry at offset " + page.entries.get(1).offset() + " (" + halfZeroName
                    + ", 40 bytes) of " + backing + ": finished a wipe that was cut short");
            assertThat(d.log()).contains("mounted 2 secrets");
            assertThat(listing()).containsExactlyInAnyOrder(page.names.get(0), page.names.get(2));
            assertThat(Files.exists(mnt.resolve(halfZeroName))).isFalse();
            assertThat(Files.exists(mnt.resolve(victim))).isFalse();
            assertThat(page.isSecret(0, Files.readAllBytes(mnt.resolve(page.names.get(0))))).isTrue();
            assertThat(d.stop()).isZero();
        }
        page.checkOnlyWiped(Files.readAllBytes(backing), Set.of(1));
        assertThat(CocoDaemon.run("inspect", backing.toString()).out()).contains("3 entries (2 live, 1 wiped)");
    }

    @Test
    @DisplayName("on a read-only backing the mount leaves the entry as it is, says so, and does not serve it")
    void readOnlyBacking() throws Exception {
        byte[] before = Files.readAllBytes(backing);
        assumeTrue(chattr("+i", backing), "skipped: the temporary directory's filesystem has no immutable flag");
        try (CocoDaemon d = CocoDaemon.mount(CocoDaemon.Start.QUICK, backing, mnt)) {
            assertThat(d.log()).contains("(" + halfZeroName + ", 40 bytes) of " + backing
                    + ": a wipe of it was cut short and the backing is read-only, so it stays unfinished;"
                    + " it is not served");
            assertThat(listing()).containsExactlyInAnyOrder(page.names.get(0), page.names.get(2));
            assertThat(d.stop()).isZero();
        } finally {
            chattr("-i", backing);
        }
        assertThat(Arrays.equals(Files.readAllBytes(backing), before)).as("the page is untouched").isTrue();
    }

    static boolean chattr(String flag, Path file) throws Exception {
        Process p = new ProcessBuilder("chattr", flag, file.toString()).redirectErrorStream(true).start();
        return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    }
}
