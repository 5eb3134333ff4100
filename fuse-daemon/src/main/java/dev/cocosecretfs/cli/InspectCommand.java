// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.table.SecretEntry;
import dev.cocosecretfs.table.SecretTable;
import dev.cocosecretfs.table.TableFormatException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
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
                + " Secret bytes are never read."
        })
final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Parameters(paramLabel = "PAGE", description = "Page file or device.")
    Path page;

    @Override
    public Integer call() throws CliException {
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
        out.printf("%-8s %-36s %8s  %s%n", "OFFSET", "GUID", "LENGTH", "STATE");
        for (int i = 0; i < table.size(); i++) {
            SecretEntry e = table.entry(i);
            out.printf("%-8d %-36s %8d  %s%n", e.offset(), e.guid(), e.dataLength(), e.state().label());
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
                    .append(",\"state\":\"").append(e.state().label()).append("\"}");
            sep = ",";
        }
        out.println(json.append("]}"));
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
