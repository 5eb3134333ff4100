// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import dev.cocosecretfs.fuse.Ownership;
import dev.cocosecretfs.policy.Access;
import dev.cocosecretfs.policy.Policy;
import dev.cocosecretfs.policy.PolicyException;
import dev.cocosecretfs.policy.PolicyFile;
import dev.cocosecretfs.policy.SystemAccounts;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.table.Guid;
import dev.cocosecretfs.table.SecretEntry;
import dev.cocosecretfs.table.SecretTable;
import dev.cocosecretfs.table.TableFormatException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code coco-secretfs inspect}: validate a page and list its entries, never their bytes. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {
            "Validate a secret page (or the device) and list each entry's offset, GUID, data length and"
                + " state (live; wiping: a wipe was cut short, the next mount finishes it; or wiped)."
                + " Secret bytes are never read.",
            "With --policy, also what each live secret would get on the mount: owner, group, mode, link"
                + " name and once, as mount --policy FILE with the same --uid, --gid and --mode would give."
        })
final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Option(names = "--policy", paramLabel = "FILE",
            description = "Check FILE as mount --policy would, and show what each secret would get.")
    Path policyPath;

    @Option(names = "--uid", paramLabel = "N", description = "With --policy: mount's --uid (default: 0).")
    long uid = Ownership.DEFAULT.uid();

    @Option(names = "--gid", paramLabel = "N", description = "With --policy: mount's --gid (default: 0).")
    long gid = Ownership.DEFAULT.gid();

    @Option(names = "--mode", paramLabel = "OCTAL", description = "With --policy: mount's --mode (default: 0440).")
    String mode = "0440";

    @Parameters(paramLabel = "PAGE", description = "Page file or device.")
    Path page;

    /** The policy of {@code --policy} and the fallback it applies to; empty without {@code --policy}. */
    private Optional<Policy> policy = Optional.empty();
    private Access fallback;

    @Override
    public Integer call() throws CliException {
        Ownership ownership = MountCommand.ownership(uid, gid, mode, Optional.empty());
        fallback = Access.of(ownership.uid(), ownership.gid(), ownership.fileMode());
        if (policyPath != null) {
            try {
                policy = Optional.of(new PolicyFile(policyPath, false).load(new SystemAccounts()));
            } catch (PolicyException e) {
                throw new CliException(e.exitCode(), e.getMessage());
            }
        }
        long size;
        SecretTable table;
        try (BackingStore store = Stores.open(page)) {
            size = store.size();
            table = SecretTable.parse(size, store::readMetadata);
        } catch (TableFormatException e) {
            throw Failures.table(page, e);
        } catch (IOException e) {
            throw Failures.input("page", page, e);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (policy.isPresent()) {
            warnUnlisted(table);
        }
        if (json) {
            printJson(out, size, table);
        } else {
            printTable(out, size, table);
        }
        out.flush();
        return 0;
    }

    private void printTable(PrintWriter out, long size, SecretTable table) {
        if (!table.populated()) {
            out.printf("%s: %d bytes, no secret table (the header GUID is not %s)%n", page, size,
                    SecretTable.HEADER_GUID);
            return;
        }
        int wiping = 0;
        for (int i = 0; i < table.size(); i++) {
            wiping += table.state(i) == SecretEntry.State.WIPING ? 1 : 0;
        }
        int live = table.liveCount();
        out.printf("%s: %d bytes, table of %d bytes, %d entries (%d live, %s%d wiped)%n", page, size,
                table.tableLength(), table.size(), live, wiping == 0 ? "" : wiping + " wiping, ",
                table.size() - live - wiping);
        if (table.size() == 0) {
            return;
        }
        if (policy.isEmpty()) {
            out.printf("%-8s %-36s %8s  %s%n", "OFFSET", "GUID", "LENGTH", "STATE");
            for (int i = 0; i < table.size(); i++) {
                SecretEntry e = table.entry(i);
                out.printf("%-8d %-36s %8d  %s%n", e.offset(), e.guid(), e.dataLength(), e.state().label());
            }
            return;
        }
        out.printf("%-8s %-36s %8s  %-7s %10s %10s %-5s %-4s %s%n", "OFFSET", "GUID", "LENGTH", "STATE", "OWNER",
                "GROUP", "MODE", "ONCE", "NAME");
        for (int i = 0; i < table.size(); i++) {
            SecretEntry e = table.entry(i);
            if (!e.live()) {
                out.printf("%-8d %-36s %8d  %s%n", e.offset(), e.guid(), e.dataLength(), e.state().label());
                continue;
            }
            Access a = policy.get().access(e.guid(), fallback);
            out.printf("%-8d %-36s %8d  %-7s %10d %10d %-5s %-4s %s%n", e.offset(), e.guid(), e.dataLength(),
                    e.state().label(), a.uid(), a.gid(), octal(a.mode()), a.once() ? "yes" : "no",
                    a.name().orElse("-"));
        }
    }

    private void printJson(PrintWriter out, long size, SecretTable table) {
        StringBuilder json = new StringBuilder();
        json.append("{\"page\":").append(quote(page.toString()))
                .append(",\"size\":").append(size)
                .append(",\"populated\":").append(table.populated())
                .append(",\"tableLength\":").append(table.tableLength())
                .append(",\"entries\":[");
        String sep = "";
        for (int i = 0; i < table.size(); i++) {
            SecretEntry e = table.entry(i);
            out.print(json);
            json.setLength(0);
            json.append(sep).append("{\"offset\":").append(e.offset())
                    .append(",\"guid\":\"").append(e.guid()).append('"')
                    .append(",\"entryLength\":").append(e.length())
                    .append(",\"dataOffset\":").append(e.dataOffset())
                    .append(",\"length\":").append(e.dataLength())
                    .append(",\"state\":\"").append(e.state().label()).append('"');
            if (policy.isPresent() && e.live()) {
                Access a = policy.get().access(e.guid(), fallback);
                json.append(",\"access\":{\"uid\":").append(a.uid())
                        .append(",\"gid\":").append(a.gid())
                        .append(",\"mode\":\"").append(octal(a.mode())).append('"')
                        .append(",\"name\":").append(a.name().map(InspectCommand::quote).orElse("null"))
                        .append(",\"once\":").append(a.once()).append('}');
            }
            json.append('}');
            sep = ",";
        }
        out.println(json.append("]}"));
    }

    private static String octal(int mode) {
        return String.format("%04o", mode);
    }

    /** A warning on standard error for each GUID the policy lists that the page does not hold live. */
    private void warnUnlisted(SecretTable table) {
        Set<Guid> live = new HashSet<>();
        for (int i = 0; i < table.size(); i++) {
            if (table.entry(i).live()) {
                live.add(table.entry(i).guid());
            }
        }
        PrintWriter err = spec.commandLine().getErr();
        policy.get().rules().forEach((guid, rule) -> {
            if (!live.contains(guid)) {
                err.printf("coco-secretfs: warning: %s:%d: %s is not in %s (not injected, or wiped)%n", policyPath,
                        rule.line(), guid, page);
            }
        });
        err.flush();
    }

    private static String quote(String s) {
        StringBuilder q = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                q.append('\\').append(c);
            } else if (c < 0x20) {
                q.append(String.format("\\u%04x", (int) c));
            } else {
                q.append(c);
            }
        }
        return q.append('"').toString();
    }
}
