// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.policy;

import com.google.common.collect.ImmutableMap;
import dev.cocosecretfs.table.Guid;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * Reads the text of a policy: one line per secret, {@code GUID|* option...}, {@code #} to the end of
 * a line a comment, blank lines ignored. Stops at the first wrong line with {@code FILE:LINE: what}.
 */
final class PolicyParser {
    /** The largest id a policy may give: {@code (uid_t) -1} means "no change" to chown(2). */
    static final long MAX_ID = 0xfffffffeL;
    static final int NAME_MAX = 255;

    private static final Pattern DECIMAL = Pattern.compile("[0-9]+");
    private static final Pattern OCTAL = Pattern.compile("[0-7]+");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]+");
    private static final Pattern GUID_SHAPED =
            Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    private static final String OPTIONS = "owner=, group=, mode=, name= or once";

    private final Path file;
    private final Accounts accounts;
    private final Map<Guid, Rule> rules = new LinkedHashMap<>();
    /** Each name given so far, with the line that gave it. */
    private final Map<String, Integer> names = new HashMap<>();
    private Rule defaults;
    private int defaultsLine;

    private PolicyParser(Path file, Accounts accounts) {
        this.file = file;
        this.accounts = accounts;
    }

    /** Parses {@code text}, the content of {@code file}. */
    static Policy parse(Path file, byte[] text, Accounts accounts) throws PolicyException {
        PolicyParser parser = new PolicyParser(file, accounts);
        int start = 0;
        int line = 1;
        while (start <= text.length) {
            int end = start;
            while (end < text.length && text[end] != '\n') {
                end++;
            }
            if (start < text.length || end > start) {
                parser.line(line, decode(file, line, text, start, end));
            }
            start = end + 1;
            line++;
        }
        return new Policy(Optional.of(file), ImmutableMap.copyOf(parser.rules), Optional.ofNullable(parser.defaults));
    }

    private static String decode(Path file, int line, byte[] text, int start, int end) throws PolicyException {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(text, start, end - start))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new PolicyException(file, line, "not UTF-8 text");
        }
    }

    private PolicyException error(int line, String message) {
        return new PolicyException(file, line, message);
    }

    private void line(int line, String text) throws PolicyException {
        int hash = text.indexOf('#');
        String content = hash < 0 ? text : text.substring(0, hash);
        String[] tokens = content.strip().split("[ \t\r\f\u000b]+");
        if (tokens.length == 1 && tokens[0].isEmpty()) {
            return;
        }
        for (String token : tokens) {
            for (int i = 0; i < token.length(); i++) {
                if (Character.isISOControl(token.charAt(i))) {
                    throw error(line, "a control character in '" + printable(token) + "'");
                }
            }
        }
        String target = tokens[0];
        boolean star = target.equals("*");
        Guid guid = null;
        if (star) {
            if (defaults != null) {
                throw error(line, "a second '*' line (the first is line " + defaultsLine + ")");
            }
        } else if (GUID_SHAPED.matcher(target).matches()) {
            guid = Guid.parse(target);
            Rule earlier = rules.get(guid);
            if (earlier != null) {
                throw error(line, guid + " is listed twice (also on line " + earlier.line() + ")");
            }
        } else {
            throw error(line, "'" + printable(target) + "' is neither a GUID (8-4-4-4-12 hex digits) nor '*'");
        }
        Rule rule = rule(line, star, tokens);
        if (star) {
            defaults = rule;
            defaultsLine = line;
        } else {
            rules.put(guid, rule);
        }
    }

    private Rule rule(int line, boolean star, String[] tokens) throws PolicyException {
        OptionalLong uid = OptionalLong.empty();
        OptionalLong gid = OptionalLong.empty();
        OptionalInt mode = OptionalInt.empty();
        Optional<String> name = Optional.empty();
        boolean once = false;
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int i = 1; i < tokens.length; i++) {
            String token = tokens[i];
            int eq = token.indexOf('=');
            String key = eq < 0 ? token : token.substring(0, eq);
            String value = eq < 0 ? null : token.substring(eq + 1);
            boolean known = key.equals("owner") || key.equals("group") || key.equals("mode") || key.equals("name")
                    || key.equals("once");
            if (!known) {
                throw error(line, "unknown option '" + printable(token) + "' (expected " + OPTIONS + ")");
            }
            if (!seen.add(key)) {
                throw error(line, key + (key.equals("once") ? "" : "=") + " is given twice");
            }
            if (key.equals("once")) {
                if (value != null) {
                    throw error(line, "once takes no value (found '" + printable(token) + "')");
                }
                once = true;
                continue;
            }
            if (value == null) {
                throw error(line, key + " needs a value: " + key + "=...");
            }
            if (value.isEmpty()) {
                throw error(line, key + "= has an empty value");
            }
            switch (key) {
                case "owner" -> uid = OptionalLong.of(id(line, "owner", value, true));
                case "group" -> gid = OptionalLong.of(id(line, "group", value, false));
                case "mode" -> mode = OptionalInt.of(mode(line, value));
                default -> {
                    if (star) {
                        throw error(line, "name= cannot be given to '*' (a name belongs to one secret)");
                    }
                    name = Optional.of(name(line, value));
                }
            }
        }
        return new Rule(uid, gid, mode, name, once, line);
    }

    private long id(int line, String key, String value, boolean user) throws PolicyException {
        if (DECIMAL.matcher(value).matches()) {
            if (value.length() > 10 || Long.parseLong(value) > MAX_ID) {
                throw error(line, key + "=" + value + ": out of range (0 to " + MAX_ID + ")");
            }
            return Long.parseLong(value);
        }
        OptionalLong id;
        try {
            id = user ? accounts.uid(value) : accounts.gid(value);
        } catch (IllegalStateException e) {
            throw error(line, key + "=" + printable(value) + ": cannot look it up: " + e.getMessage());
        }
        if (id.isEmpty()) {
            throw error(line, key + "=" + printable(value) + ": no such " + (user ? "user" : "group"));
        }
        if (id.getAsLong() < 0 || id.getAsLong() > MAX_ID) {
            throw error(line, key + "=" + printable(value) + ": its id " + id.getAsLong() + " is out of range");
        }
        return id.getAsLong();
    }

    private int mode(int line, String value) throws PolicyException {
        if (!OCTAL.matcher(value).matches()) {
            throw error(line, "mode=" + printable(value) + ": not an octal number");
        }
        String digits = value.replaceFirst("^0+(?=.)", "");
        if (digits.length() > 3) {
            throw error(line, "mode=" + value + ": only permission bits (0 to 0777) may be given");
        }
        int bits = Integer.parseInt(digits, 8);
        if ((bits & 0222) != 0) {
            throw error(line, "mode=" + value + ": gives write permission; secrets are read-only"
                    + " (use at most 0" + Integer.toOctalString(bits & 0555) + ")");
        }
        return bits;
    }

    private String name(int line, String value) throws PolicyException {
        if (value.length() > NAME_MAX) {
            throw error(line, "name=: longer than " + NAME_MAX + " characters");
        }
        if (!NAME.matcher(value).matches()) {
            throw error(line, "name=" + printable(value) + ": may use only letters, digits, '.', '-' and '_'");
        }
        if (value.equals(".") || value.equals("..")) {
            throw error(line, "name=" + value + ": not a file name");
        }
        if (GUID_SHAPED.matcher(value).matches()) {
            throw error(line, "name=" + value + ": shaped like a GUID, which names the secrets themselves");
        }
        Integer earlier = names.putIfAbsent(value, line);
        if (earlier != null) {
            throw error(line, "name=" + value + " is used twice (also on line " + earlier + ")");
        }
        return value;
    }

    /** The token as it may be shown: at most 64 characters, control characters escaped. */
    private static String printable(String token) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < token.length() && out.length() < 64; i++) {
            char c = token.charAt(i);
            if (Character.isISOControl(c)) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.length() < token.length() ? out + "..." : out.toString();
    }
}
