// SPDX-License-Identifier: Apache-2.0

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;

/**
 * Turns the raw lines of bench/run.sh into the benchmark's table (stdout) and its JSON. Run from
 * source: {@code java bench/Report.java RAW JSON}.
 *
 * <p>Every figure is a median over the interleaved rounds, with the spread of the rounds (half the
 * range, as a percentage of the median) beside it; per-operation CPU and round trips are totals
 * over all measured rounds divided by their operations. Ratios are always coco-secretfs divided by
 * the other filesystem, so a rate above 1 and a latency below 1 favour coco-secretfs.
 */
public final class Report {
    private static final List<String> BASE_FS = List.of("tmpfs", "c-floor", "c-floor-st", "bindfs", "ours");
    private static final List<String> OTHERS = List.of("tmpfs", "c-floor", "c-floor-st", "bindfs");
    /** The C libfuse2 servers of which the faster one is the reads target's reference. */
    private static final List<String> C_LIBFUSE = List.of("c-floor", "c-floor-st");
    /** The shortest idle window whose 0 means something (see targets()). */
    private static final int IDLE_MIN_S = 10;
    /** The variant with BENCH_B_OPTS, present only in an A/B run. */
    private static final String B = "ours-b";

    /** One raw line: its key=value pairs. */
    record Line(Map<String, String> kv) {
        static Line parse(String text) {
            Map<String, String> kv = new LinkedHashMap<>();
            for (String token : text.trim().split("\\s+")) {
                int eq = token.indexOf('=');
                if (eq > 0) {
                    kv.put(token.substring(0, eq), token.substring(eq + 1));
                } else if (!token.isEmpty()) {
                    kv.put(token, "");
                }
            }
            return new Line(kv);
        }

        String get(String key) {
            return kv.getOrDefault(key, "");
        }

        double num(String key) {
            String v = kv.get(key);
            return v == null || v.isEmpty() ? Double.NaN : Double.parseDouble(v);
        }

        boolean is(String key, String value) {
            return value.equals(kv.get(key));
        }
    }

    /** A figure for one filesystem: the median and the range of its samples (NaN if none). */
    record Figure(double median, double min, double max, int n) {
        static final Figure NONE = new Figure(Double.NaN, Double.NaN, Double.NaN, 0);

        static Figure of(double[] samples) {
            if (samples.length == 0) {
                return NONE;
            }
            double[] s = samples.clone();
            Arrays.sort(s);
            int n = s.length;
            double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
            return new Figure(median, s[0], s[n - 1], n);
        }

        static Figure exact(double value) {
            return Double.isNaN(value) ? NONE : new Figure(value, value, value, 1);
        }

        double spreadPercent() {
            return n < 2 || median == 0 ? 0 : (max - min) / 2 / median * 100;
        }
    }

    /** One row of the table. */
    /**
     * One row of the table. {@code paired}, when not null, holds each filesystem's value per round
     * (per run for the starts), so that a ratio can be taken within a round, between runs made
     * seconds apart, and its median taken over the rounds: steadier than a ratio of medians when
     * the machine's load drifts.
     */
    record Metric(String key, String label, String unit, boolean higherIsBetter, Map<String, Figure> values,
            Map<String, Map<String, Double>> paired) {}

    private final List<Line> lines;
    private final List<Metric> metrics = new ArrayList<>();
    /** The filesystems measured: BASE_FS, and ours-b in an A/B run. */
    private final List<String> fsList;
    private final boolean ab;

    private Report(List<Line> lines) {
        this.lines = lines;
        this.ab = lines.stream().anyMatch(l -> l.is("fs", B));
        List<String> fs = new ArrayList<>(BASE_FS);
        if (ab) {
            fs.add(B);
        }
        this.fsList = List.copyOf(fs);
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2 && args.length != 3) {
            System.err.println("usage: java bench/Report.java RAW JSON [TARGETS-TSV]");
            System.exit(64);
        }
        List<Line> lines = new ArrayList<>();
        for (String text : Files.readAllLines(Path.of(args[0]))) {
            if (!text.isBlank()) {
                lines.add(Line.parse(text));
            }
        }
        Report report = new Report(lines);
        report.compute();
        System.out.print(report.table());
        Files.writeString(Path.of(args[1]), report.json());
        if (args.length == 3) {
            Files.writeString(Path.of(args[2]), report.targetsTsv());
        }
    }

    /** A run of the interleaved rounds (not the warm-up, the top-up to N reads or the profile). */
    private static boolean measured(Line l) {
        return l.get("round").matches("[1-9][0-9]*");
    }

    private List<Line> select(Predicate<Line> p) {
        return lines.stream().filter(p).toList();
    }

    private Line host(String phase) {
        return lines.stream().filter(l -> l.kv().containsKey("host") && l.is("phase", phase)).findFirst()
                .orElse(new Line(Map.of()));
    }

    /** Median over the lines of each filesystem. */
    private Map<String, Figure> perFs(Predicate<Line> p, ToDoubleFunction<Line> value) {
        Map<String, Figure> m = new LinkedHashMap<>();
        for (String fs : fsList) {
            m.put(fs, Figure.of(select(l -> l.is("fs", fs) && p.test(l)).stream().mapToDouble(value)
                    .filter(v -> !Double.isNaN(v)).toArray()));
        }
        return m;
    }

    /** Sum of one key over the sum of another, per filesystem, times a factor. */
    private Map<String, Figure> ratioOfSums(Predicate<Line> p, String num, String den, double factor) {
        Map<String, Figure> m = new LinkedHashMap<>();
        for (String fs : fsList) {
            List<Line> sel = select(l -> l.is("fs", fs) && p.test(l) && !Double.isNaN(l.num(num)));
            double a = sel.stream().mapToDouble(l -> l.num(num)).sum();
            double b = sel.stream().mapToDouble(l -> l.num(den)).sum();
            m.put(fs, sel.isEmpty() || b == 0 ? Figure.NONE : Figure.exact(a / b * factor));
        }
        return m;
    }

    private void add(String key, String label, String unit, boolean higher, Map<String, Figure> values) {
        metrics.add(new Metric(key, label, unit, higher, values, null));
    }

    /** A row whose ratios are paired by round: {@code roundKey} names the round of each line. */
    private void addPaired(String key, String label, String unit, boolean higher, Predicate<Line> p,
            ToDoubleFunction<Line> value, String roundKey) {
        Map<String, Map<String, Double>> paired = new LinkedHashMap<>();
        for (String fs : fsList) {
            Map<String, Double> byRound = new LinkedHashMap<>();
            for (Line l : select(x -> x.is("fs", fs) && p.test(x))) {
                byRound.put(l.get(roundKey), value.applyAsDouble(l));
            }
            paired.put(fs, byRound);
        }
        metrics.add(new Metric(key, label, unit, higher, perFs(p, value), paired));
    }

    private void compute() {
        for (int t : new int[] {1, 2}) {
            String th = String.valueOf(t);
            Predicate<Line> orc = l -> l.is("kind", "orc") && l.is("threads", th) && measured(l);
            String n = t == 1 ? "1 thread" : "2 threads";
            addPaired("orc_rate_" + t + "t", "open+read+close, " + n, "ops/s", true, orc, l -> l.num("rate"), "round");
            addPaired("orc_mean_" + t + "t", "  mean latency", "us", false, orc, l -> l.num("mean_us"), "round");
            addPaired("orc_p99_" + t + "t", "  p99 latency", "us", false, orc, l -> l.num("p99_us"), "round");
            add("orc_cpu_" + t + "t", "  server CPU per op", "us", false,
                    ratioOfSums(orc, "cpu_ms", "ops", 1000));
            add("orc_trips_" + t + "t", "  round trips per op", "", false, ratioOfSums(orc, "syscw", "ops", 1));
            add("orc_syscr_" + t + "t", "  server read syscalls per op", "", false,
                    ratioOfSums(orc, "syscr", "ops", 1));
        }
        Predicate<Line> rd = l -> l.is("kind", "readdir");
        addPaired("readdir_mean", "readdir (34 entries), mean", "us", false, rd, l -> l.num("mean_us"), "round");
        addPaired("readdir_p99", "  p99 latency", "us", false, rd, l -> l.num("p99_us"), "round");
        add("readdir_cpu", "  server CPU per readdir", "us", false, ratioOfSums(rd, "cpu_ms", "ops", 1000));
        Predicate<Line> ul = l -> l.is("kind", "unlink");
        add("unlink_mean", "unlink, mean (32 files)", "us", false, perFs(ul, l -> l.num("mean_us")));
        add("unlink_max", "  max latency", "us", false, perFs(ul, l -> l.num("max_us")));
        Predicate<Line> st = l -> l.is("kind", "start");
        addPaired("start_ms", "start to usable mount, median", "ms", false, st, l -> l.num("start_ms"), "run");
        add("start_faults", "  page faults until usable", "", false, perFs(st, l -> l.num("minflt")));
        add("rss_mount_mb", "server RSS after mount", "MB", false,
                perFs(l -> l.is("kind", "rss-mount"), l -> l.num("rss_kb") / 1024));
        double reads = select(l -> l.is("kind", "rss-reads") && l.is("fs", "ours")).stream()
                .mapToDouble(l -> l.num("reads")).findFirst().orElse(Double.NaN);
        add("rss_reads_mb", "server RSS after " + (Double.isNaN(reads) ? "the" : Math.round(reads / 1000) + "k")
                + " reads", "MB", false,
                perFs(l -> l.is("kind", "rss-reads"), l -> l.num("rss_kb") / 1024));
        add("idle_per_s", "idle context switches (per s)", "", false,
                perFs(l -> l.is("kind", "idle"), l -> l.num("per_s")));
    }

    private Figure startOf(String fs) {
        return Figure.of(select(l -> l.is("kind", "start") && l.is("fs", fs)).stream()
                .mapToDouble(l -> l.num("start_ms")).toArray());
    }

    private Metric metric(String key) {
        return metrics.stream().filter(m -> m.key().equals(key)).findFirst().orElseThrow();
    }

    private static double ratio(Metric m, String other) {
        return ratio(m, "ours", other);
    }

    /** {@code fs} over {@code other}: paired by round where the metric has rounds. */
    private static double ratio(Metric m, String fs, String other) {
        if (m.values().get(fs) == null || m.values().get(other) == null) {
            return Double.NaN;
        }
        if (m.paired() != null) {
            Map<String, Double> o = m.paired().get(fs);
            Map<String, Double> t = m.paired().get(other);
            double[] r = o.keySet().stream().filter(t::containsKey)
                    .mapToDouble(k -> o.get(k) / t.get(k)).filter(v -> !Double.isNaN(v) && !Double.isInfinite(v))
                    .toArray();
            return Figure.of(r).median();
        }
        double ours = m.values().get(fs).median();
        double them = m.values().get(other).median();
        return them == 0 || Double.isNaN(them) || Double.isNaN(ours) ? Double.NaN : ours / them;
    }

    /**
     * One of issue 12's targets: the figure measured in this run, the limit it is held to (for the
     * start, itself a figure of this run) and what the figure is taken against.
     */
    record Target(String name, double value, String unit, String op, double limit, String note, boolean conclusive) {
        Target(String name, double value, String unit, String op, double limit, String note) {
            this(name, value, unit, op, limit, note, true);
        }

        boolean holds() {
            return conclusive && !Double.isNaN(value) && !Double.isNaN(limit)
                    && (op.equals(">=") ? value >= limit : value <= limit);
        }

        String verdict() {
            return Double.isNaN(value) || Double.isNaN(limit) ? "NOT MEASURED"
                    : !conclusive ? "INCONCLUSIVE" : holds() ? "HOLDS" : "DOES NOT HOLD";
        }
    }

    /** The faster of the C libfuse2 servers at THREADS client threads in this run (median rate). */
    private String bestC(int threads) {
        Metric m = metric("orc_rate_" + threads + "t");
        String best = null;
        for (String fs : C_LIBFUSE) {
            double v = m.values().get(fs).median();
            if (!Double.isNaN(v) && (best == null || v > m.values().get(best).median())) {
                best = fs;
            }
        }
        return best == null ? C_LIBFUSE.get(0) : best;
    }

    private Figure jvmFloor() {
        return Figure.of(select(l -> l.is("kind", "jvm-floor")).stream().mapToDouble(l -> l.num("run_ms")).toArray());
    }

    private double idleOf(String fs) {
        return select(l -> l.is("kind", "idle") && l.is("fs", fs)).stream().mapToDouble(l -> l.num("per_s"))
                .findFirst().orElse(Double.NaN);
    }

    private double rssOf(String kind, String fs) {
        return select(l -> l.is("kind", kind) && l.is("fs", fs)).stream().mapToDouble(l -> l.num("rss_kb") / 1024)
                .findFirst().orElse(Double.NaN);
    }

    /** Issue 12's targets, each with the figure of this run that decides it. */
    private List<Target> targets() {
        List<Target> t = new ArrayList<>();
        double floor = jvmFloor().median();
        boolean archive = select(l -> l.is("kind", "jvm-floor-archive")).stream().allMatch(l -> l.is("used", "yes"));
        t.add(new Target("start to usable mount, median (launcher)", startOf("ours").median(), "ms", "<=",
                floor + 50, String.format(Locale.ROOT, "JVM floor %s ms + 50%s; C servers: c-floor %s ms, bindfs %s ms",
                        num(floor), archive ? "" : " (floor without the archive)", num(startOf("c-floor").median()),
                        num(startOf("bindfs").median()))));
        for (int th : new int[] {1, 2}) {
            String best = bestC(th);
            Metric rate = metric("orc_rate_" + th + "t");
            double r = ratio(rate, best);
            String note = String.format(Locale.ROOT, "best C libfuse2 here: %s (%s ops/s; other: %s); ours %s ops/s;"
                            + " ours/bindfs %s", best, num(rate.values().get(best).median()),
                    C_LIBFUSE.stream().filter(f -> !f.equals(best)).map(f -> f + " " + num(rate.values().get(f).median()))
                            .findFirst().orElse("-"),
                    num(rate.values().get("ours").median()), num(ratio(rate, "bindfs")));
            String n = th == 1 ? "1 client thread" : "2 client threads";
            t.add(new Target("reads, " + n + ": ours / best C", r, "", ">=", 1.0, note));
            t.add(new Target("reads, " + n + ": ours / best C (stretch)", r, "", ">=", 2.0, note));
        }
        Metric rss = metric("rss_reads_mb");
        t.add(new Target(rss.label().replace("server ", "") + " (ours)", rss.values().get("ours").median(), "MB", "<=",
                40.0, String.format(Locale.ROOT, "idle JVM with the launcher's options and archive: %s MB",
                        num(rssOf("rss-idle", "idle-jvm")))));
        int idleS = (int) Math.round(select(l -> l.is("kind", "idle") && l.is("fs", "ours")).stream()
                .mapToDouble(l -> l.num("seconds")).findFirst().orElse(Double.NaN));
        // The JVM's slowest regular timers tick every 5 s (the C1 thread, the arena chunk cleaner): a
        // shorter window can see none of them and show a 0 that says nothing.
        boolean longEnough = idleS >= IDLE_MIN_S;
        t.add(new Target("idle wake-ups of the daemon (per s, over " + idleS + " s)", idleOf("ours"), "/s", "<=", 0.0,
                String.format(Locale.ROOT, "idle JVM %s/s; C servers: c-floor %s, c-floor-st %s, bindfs %s%s",
                        num2(idleOf("idle-jvm")), num2(idleOf("c-floor")), num2(idleOf("c-floor-st")),
                        num2(idleOf("bindfs")), longEnough ? "" : "; a window under " + IDLE_MIN_S
                                + " s can miss the JVM's 5 s timers (BENCH_IDLE_S)"),
                longEnough));
        return t;
    }

    private static String num2(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
    }

    /** The targets as tab-separated values with a header line, for the README to quote. */
    private String targetsTsv() {
        Line begin = host("begin");
        StringBuilder b = new StringBuilder("target\tvalue\tunit\top\tlimit\tverdict\tcommit\tnote\n");
        for (Target t : targets()) {
            b.append(String.join("\t", t.name(), jnum(t.value()), t.unit(), t.op(), jnum(t.limit()), t.verdict(),
                    begin.get("commit"), t.note().replace('\t', ' '))).append('\n');
        }
        return b.toString();
    }

    /** Idle context switches of one process, summed by thread name (numbered names kept apart). */
    private String idleThreads(String fs) {
        List<Line> th = select(l -> l.is("kind", "idle-thread") && l.is("fs", fs));
        Line total = select(l -> l.is("kind", "idle") && l.is("fs", fs)).stream().findFirst().orElse(null);
        if (total == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "  %-10s %5s in %s s (%s/s), %s threads:",
                fs, total.get("switches"), num(total.num("seconds")), num2(total.num("per_s")), total.get("threads")));
        if (th.isEmpty()) {
            b.append(" none switched");
        }
        for (Line l : th) {
            b.append(' ').append(l.get("comm")).append('=').append(l.get("switches"));
        }
        return b.append('\n').toString();
    }

    private static String num(double v) {
        if (Double.isNaN(v)) {
            return "-";
        }
        double a = Math.abs(v);
        if (a >= 100_000) {
            return String.format(Locale.ROOT, "%.0fk", v / 1000);
        }
        if (a >= 1000) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (a >= 100) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (a >= 10) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        return String.format(Locale.ROOT, "%.2f", v);
    }

    private static String cell(Figure f) {
        if (Double.isNaN(f.median())) {
            return "-";
        }
        String s = num(f.median());
        double spread = f.spreadPercent();
        return spread >= 0.5 ? s + " ±" + Math.round(spread) + "%" : s;
    }

    private String table() {
        Line begin = host("begin");
        Line end = host("end");
        StringBuilder b = new StringBuilder();
        int rounds = select(l -> l.is("kind", "orc") && l.is("fs", "ours") && l.is("threads", "1")
                && measured(l)).size();
        int starts = select(l -> l.is("kind", "start") && l.is("fs", "ours")).size();
        b.append(String.format(Locale.ROOT,
                "coco-secretfs benchmark: 32 secrets x 64 bytes; %d interleaved rounds, %d starts each;"
                        + " %s CPUs, load %s -> %s; java %s; commit %s; %s s%n",
                rounds, starts, begin.get("cpus"), begin.get("load"), end.get("load"), begin.get("java"),
                begin.get("commit"), end.get("seconds")));
        b.append("Medians over the rounds; ±: half the range of the rounds. Ratios: coco-secretfs / other, taken"
                + " within each round (or start run) and their median given.\n\n");
        String fmt = "%-36s %12s %12s %12s %12s %13s" + (ab ? " %13s" : "") + " %6s %6s %6s %7s"
                + (ab ? " %7s" : "") + "%n";
        List<Object> head = new ArrayList<>(List.of("", "tmpfs", "C floor", "C floor -s", "bindfs", "coco-secretfs"));
        if (ab) {
            head.add("ours B");
        }
        head.addAll(List.of("/tmpfs", "/C", "/C -s", "/bindfs"));
        if (ab) {
            head.add("B/ours");
        }
        b.append(String.format(Locale.ROOT, fmt, head.toArray()));
        for (Metric m : metrics) {
            String label = m.label() + (m.unit().isEmpty() ? "" : " (" + m.unit() + ")");
            List<Object> row = new ArrayList<>(List.of(label,
                    cell(m.values().get("tmpfs")), cell(m.values().get("c-floor")),
                    cell(m.values().get("c-floor-st")), cell(m.values().get("bindfs")), cell(m.values().get("ours"))));
            if (ab) {
                row.add(cell(m.values().get(B)));
            }
            row.addAll(List.of(num(ratio(m, "tmpfs")), num(ratio(m, "c-floor")), num(ratio(m, "c-floor-st")),
                    num(ratio(m, "bindfs"))));
            if (ab) {
                row.add(num(ratio(m, B, "ours")));
            }
            b.append(String.format(Locale.ROOT, fmt, row.toArray()));
        }
        b.append("C floor: bench/c-floor, libfuse's multithreaded loop (its default); C floor -s: the same, one"
                + " libfuse thread; bindfs: one thread (its default); coco-secretfs: its own loop (leader/followers).\n");
        if (ab) {
            b.append("ours B: coco-secretfs through the same launcher with BENCH_B_OPTS added to its JVM options"
                    + " (JVM options of this run: see raw.txt); B/ours: paired like the other ratios.\n");
        }
        b.append(String.format(Locale.ROOT, "%nstart to usable mount, coco-secretfs variants, median (min-max) ms:"
                        + "%n  launcher %s; launcher without CDS %s; plain java -jar %s%s"
                        + "%n  JVM floor (java -version through the launcher: its environment, JVM options and"
                        + " archive%s): %s%n",
                startRange("ours"), startRange("ours-nocds"), startRange("ours-jar"),
                ab ? "; ours B " + startRange(B) : "",
                select(l -> l.is("kind", "jvm-floor-archive")).stream().allMatch(l -> l.is("used", "yes")) ? ""
                        : "; THE ARCHIVE DID NOT MAP",
                range(jvmFloor())));
        List<String> unmapped = select(l -> l.is("kind", "archive") && !l.is("mapped", "yes")).stream()
                .map(l -> l.get("fs")).toList();
        if (!unmapped.isEmpty()) {
            b.append("  WARNING: the class-data archive was not mapped by: " + String.join(", ", unmapped)
                    + " (their start and RSS are not the launcher's)\n");
        }
        b.append(phasesText());
        b.append(profileText());
        b.append(String.format(Locale.ROOT, "%nidle: context switches while nothing is asked, all threads, by thread"
                + " name:%n"));
        for (String fs : fsList) {
            b.append(idleThreads(fs));
        }
        b.append(idleThreads("idle-jvm"));
        b.append(String.format(Locale.ROOT, "  (idle-jvm: bench/Idle.java, a sleeping main thread, started through the"
                + " launcher with its options and archive; its RSS at the end of the window: %s MB)%n",
                num(rssOf("rss-idle", "idle-jvm"))));
        b.append(String.format(Locale.ROOT, "%ntargets (issue 12), measured in this run:%n"));
        String tf = "  %-48s %9s  %-10s %s%n";
        String lastNote = "";
        for (Target t : targets()) {
            String limit = t.op() + " " + (t.name().startsWith("idle") ? num2(t.limit()).replace(".00", "")
                    : num(t.limit())) + (t.unit().isEmpty() || t.unit().equals("/s") ? "" : " " + t.unit());
            String value = t.name().startsWith("idle") ? num2(t.value()) : num(t.value());
            b.append(String.format(Locale.ROOT, tf, t.name(), value, limit, t.verdict()));
            if (!t.note().equals(lastNote)) {
                b.append(String.format(Locale.ROOT, "      %s%n", t.note()));
            }
            lastNote = t.note();
        }
        return b.toString();
    }

    /** The start's phases, each from the first load of one marker class to the next (see bench/run.sh). */
    private static final String[][] PHASES = {
        {"exec_ms", "exec to JVM clock (launcher, JVM boot) + the probe's read reply"},
        {"jvm_ms", "JVM clock start to Main"},
        {"cli_ms", "command line parsed (Main to Logs)"},
        {"logging_ms", "logging set up (to Daemon)"},
        {"harden_ms", "signals, limits, hardening + binding libc (jffi)"},
        {"table_ms", "claim the mount point, lock + open the page, parse the table"},
        {"fs_ms", "SecretFs built (to FuseLowLevel)"},
        {"libfuse_ms", "binding libfuse (jffi: symbols, callback closures)"},
        {"mount_ms", "FuseLoop started, mount, until INIT answered"},
        {"probe_ms", "the probe's LOOKUP, OPEN, READ (first calls; READY meanwhile*)"},
    };

    /** Medians of the start phases of ours (the runs with class loading logged). */
    private Map<String, Double> phases() {
        List<Line> runs = select(l -> l.is("kind", "start-phases") && !Double.isNaN(l.num("read_uptime_ms")));
        Map<String, Double> m = new LinkedHashMap<>();
        if (runs.isEmpty()) {
            return m;
        }
        m.put("start_ms", Figure.of(runs.stream().mapToDouble(l -> l.num("start_ms")).toArray()).median());
        for (String[] p : PHASES) {
            ToDoubleFunction<Line> f = p[0].equals("exec_ms")
                    ? l -> l.num("start_ms") - l.num("read_uptime_ms")
                    : l -> l.num(p[0]);
            m.put(p[0], Figure.of(runs.stream().mapToDouble(f).toArray()).median());
        }
        return m;
    }

    private String phasesText() {
        Map<String, Double> m = phases();
        if (m.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
                "%nwhere the start goes (coco-secretfs, median of %d starts with class loading logged: %s ms):%n",
                select(l -> l.is("kind", "start-phases")).size(), num(m.get("start_ms"))));
        for (String[] p : PHASES) {
            b.append(String.format(Locale.ROOT, "  %-64s %7s ms%n", p[1], num(m.get(p[0]))));
        }
        b.append("  (each phase: from the first load of one marker class to the next, see bench/run.sh; medians"
                + " taken phase by phase.\n   *READY=1 cannot be told apart: no class marks it; the main thread sends it"
                + " after the 'mounted' line\n    while the probe is served, and the start measured here, until a read"
                + " succeeds, does not wait for it)\n");
        return b.toString();
    }

    private static final List<String> COMPONENTS = List.of("kernel", "libfuse", "libc", "server", "jvm", "java", "jffi", "other");

    /** Server CPU per open+read+close (1 thread) split by the share of perf samples in each component. */
    private Map<String, Map<String, Double>> profile() {
        Map<String, Map<String, Double>> result = new LinkedHashMap<>();
        for (String fs : fsList.subList(1, fsList.size())) {
            Line shares = select(l -> l.is("kind", "profile") && l.is("fs", fs)).stream().findFirst().orElse(null);
            Line run = select(l -> l.is("kind", "orc") && l.is("fs", fs) && l.is("round", "profile")).stream()
                    .findFirst().orElse(null);
            if (shares == null || run == null || run.num("ops") == 0) {
                continue;
            }
            double perOp = run.num("cpu_ms") * 1000 / run.num("ops");
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("total", perOp);
            for (String c : COMPONENTS) {
                double pct = shares.num(c + "_pct");
                if (!Double.isNaN(pct)) {
                    m.put(c, perOp * pct / 100);
                }
            }
            result.put(fs, m);
        }
        return result;
    }

    private String profileText() {
        Map<String, Map<String, Double>> p = profile();
        if (p.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
                "%nwhere the server's CPU goes (perf samples, 1 thread; us per open+read+close):%n"));
        b.append(String.format(Locale.ROOT, "  %-10s %7s", "", "total"));
        for (String c : COMPONENTS) {
            b.append(String.format(Locale.ROOT, " %7s", c));
        }
        b.append('\n');
        for (Map.Entry<String, Map<String, Double>> e : p.entrySet()) {
            b.append(String.format(Locale.ROOT, "  %-10s %7s", e.getKey(), num(e.getValue().get("total"))));
            for (String c : COMPONENTS) {
                Double v = e.getValue().get(c);
                b.append(String.format(Locale.ROOT, " %7s", v == null ? "-" : num(v)));
            }
            b.append('\n');
        }
        b.append("  (server: the C program's own code; java: code the JVM compiled or interprets; jvm: libjvm)\n");
        return b.toString();
    }

    private String startRange(String fs) {
        return range(startOf(fs));
    }

    private static String range(Figure f) {
        return Double.isNaN(f.median()) ? "-"
                : String.format(Locale.ROOT, "%s (%s-%s)", num(f.median()), num(f.min()), num(f.max()));
    }

    private static String jnum(double v) {
        if (Double.isNaN(v)) {
            return "null";
        }
        if (Math.abs(v) >= 1000) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        return String.format(Locale.ROOT, "%.4f", v).replaceAll("\\.?0+$", "");
    }

    private static String jstr(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private static String jfig(Figure f) {
        return String.format(Locale.ROOT, "{\"median\": %s, \"min\": %s, \"max\": %s, \"n\": %d}",
                jnum(f.median()), jnum(f.min()), jnum(f.max()), f.n());
    }

    private String json() {
        StringBuilder b = new StringBuilder("{\n");
        b.append("  \"host\": {");
        Line begin = host("begin");
        Line end = host("end");
        b.append(String.format(Locale.ROOT, "\"cpus\": %s, \"load_begin\": %s, \"load_end\": %s, \"kernel\": %s,"
                        + " \"java\": %s, \"commit\": %s, \"seconds\": %s},\n",
                begin.get("cpus"), begin.get("load"), end.get("load"), jstr(begin.get("kernel")),
                jstr(begin.get("java")), jstr(begin.get("commit")), end.get("seconds").isEmpty() ? "null" : end.get("seconds")));
        b.append("  \"filesystems\": {\"tmpfs\": \"tmpfs directory\", \"c-floor\": \"bench/c-floor/c-floor.c, multithreaded\","
                + " \"c-floor-st\": \"bench/c-floor/c-floor.c -s\", \"bindfs\": \"bindfs -o direct_io over tmpfs\","
                + " \"ours\": \"coco-secretfs via dist/coco-secretfs\"},\n");
        b.append("  \"metrics\": [\n");
        for (int i = 0; i < metrics.size(); i++) {
            Metric m = metrics.get(i);
            b.append("    {\"key\": ").append(jstr(m.key())).append(", \"label\": ").append(jstr(m.label().trim()))
                    .append(", \"unit\": ").append(jstr(m.unit())).append(", \"better\": ")
                    .append(jstr(m.higherIsBetter() ? "higher" : "lower")).append(",\n      \"values\": {");
            for (int j = 0; j < fsList.size(); j++) {
                b.append(j == 0 ? "" : ", ").append(jstr(fsList.get(j))).append(": ")
                        .append(jfig(m.values().get(fsList.get(j))));
            }
            b.append("},\n      \"ours_over\": {");
            for (int j = 0; j < OTHERS.size(); j++) {
                b.append(j == 0 ? "" : ", ").append(jstr(OTHERS.get(j))).append(": ").append(jnum(ratio(m, OTHERS.get(j))));
            }
            b.append("}}").append(i + 1 < metrics.size() ? ",\n" : "\n");
        }
        b.append("  ],\n  \"start_ms\": {");
        String[] variants = ab ? new String[] {"c-floor", "bindfs", "ours", "ours-nocds", "ours-jar", B}
                : new String[] {"c-floor", "bindfs", "ours", "ours-nocds", "ours-jar"};
        for (int j = 0; j < variants.length; j++) {
            b.append(j == 0 ? "" : ", ").append(jstr(variants[j])).append(": ").append(jfig(startOf(variants[j])));
        }
        b.append(", \"jvm-floor\": ").append(jfig(jvmFloor()));
        b.append("},\n  \"start_phases_ms\": {");
        Map<String, Double> ph = phases();
        int k = 0;
        for (Map.Entry<String, Double> e : ph.entrySet()) {
            b.append(k++ == 0 ? "" : ", ").append(jstr(e.getKey())).append(": ").append(jnum(e.getValue()));
        }
        b.append("},\n  \"cpu_per_op_us_by_component\": {");
        k = 0;
        for (Map.Entry<String, Map<String, Double>> e : profile().entrySet()) {
            b.append(k++ == 0 ? "" : ", ").append(jstr(e.getKey())).append(": {");
            int j = 0;
            for (Map.Entry<String, Double> c : e.getValue().entrySet()) {
                b.append(j++ == 0 ? "" : ", ").append(jstr(c.getKey())).append(": ").append(jnum(c.getValue()));
            }
            b.append("}");
        }
        b.append("},\n  \"idle_per_s\": {");
        k = 0;
        for (String fs : fsList.subList(1, fsList.size())) {
            b.append(k++ == 0 ? "" : ", ").append(jstr(fs)).append(": ").append(jnum(idleOf(fs)));
        }
        b.append(", \"idle-jvm\": ").append(jnum(idleOf("idle-jvm")));
        b.append(", \"idle_jvm_rss_mb\": ").append(jnum(rssOf("rss-idle", "idle-jvm")));
        b.append("},\n  \"targets\": [\n");
        List<Target> targets = targets();
        for (int i = 0; i < targets.size(); i++) {
            Target t = targets.get(i);
            b.append(String.format(Locale.ROOT, "    {\"target\": %s, \"value\": %s, \"unit\": %s, \"op\": %s,"
                            + " \"limit\": %s, \"holds\": %s, \"note\": %s}%s%n",
                    jstr(t.name()), jnum(t.value()), jstr(t.unit()), jstr(t.op()), jnum(t.limit()), t.holds(),
                    jstr(t.note()), i + 1 < targets.size() ? "," : ""));
        }
        b.append("  ]\n}\n");
        return b.toString();
    }
}
