// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import dev.cocosecretfs.fuse.FuseMount;
import dev.cocosecretfs.fuse.MountException;
import dev.cocosecretfs.fuse.MountPoint;
import dev.cocosecretfs.fuse.Ownership;
import dev.cocosecretfs.fuse.SecretFs;
import dev.cocosecretfs.platform.ExclusiveLock;
import dev.cocosecretfs.platform.Hardening;
import dev.cocosecretfs.platform.Native;
import dev.cocosecretfs.platform.ServiceJob;
import dev.cocosecretfs.platform.SystemdNotify;
import dev.cocosecretfs.policy.Policy;
import dev.cocosecretfs.policy.PolicyException;
import dev.cocosecretfs.policy.PolicyFile;
import dev.cocosecretfs.policy.SystemAccounts;
import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.table.TableFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import sun.misc.Signal;

/** Serves one mount in the foreground until SIGTERM or SIGINT, then unmounts. */
final class Daemon {
    private static final System.Logger LOG = System.getLogger(Daemon.class.getName());
    /** Descriptors the daemon needs: the JVM's own, the jar, libfuse's, /dev/fuse, the backing, the locks. */
    static final long MIN_OPEN_FILES = 32;
    private static final Path LIMITS = Path.of("/proc/self/limits");
    private static final int SIGHUP = 1;

    private Daemon() {}

    /**
     * Mounts the secrets of {@code backing} at {@code mountPoint} and serves them until a signal asks to
     * stop or somebody else unmounts. {@code onReady} runs once the mount is live. Refuses to serve if
     * a hardening guard fails, unless {@code allowWeakHardening}.
     */
    static void serve(Path backing, Path mountPoint, Ownership ownership, Optional<PolicyFile> policyFile,
            boolean allowOther, boolean allowWeakHardening, Runnable onReady) throws CliException {
        CompletableFuture<String> stop = new CompletableFuture<>();
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                Signal.handle(new Signal(name), s -> stop.complete("SIG" + s.getName()));
            } catch (IllegalArgumentException e) {
                LOG.log(System.Logger.Level.DEBUG, "cannot handle SIG{0}: {1}", name, e.getMessage());
            }
        }
        requireOpenFiles(openFileLimit());
        Policy policy = loadPolicy(policyFile);
        harden(allowWeakHardening);
        Optional<Handover.Inherited> inherited = Handover.take();
        Optional<MountPoint.Mounted> mounted = inherited.flatMap(i -> takeable(i, mountPoint, backing));
        MountPoint point;
        try {
            point = mounted.isPresent() ? mounted.get().point() : MountPoint.claim(mountPoint);
        } catch (MountException e) {
            throw new CliException(CliException.EX_FAILURE, e.getMessage());
        } catch (IOException e) {
            throw new CliException(CliException.EX_FAILURE, "mount point " + mountPoint + ": " + e.getMessage());
        }
        try (point; ExclusiveLock page = lockBacking(backing); BackingStore store = open(backing)) {
            if (!page.holds(backing)) {
                throw new CliException(CliException.EX_FAILURE, "backing " + backing + " was replaced while it was"
                        + " being opened; try again");
            }
            SecretDirectory directory;
            try {
                directory = SecretDirectory.open(store);
            } catch (TableFormatException e) {
                throw Failures.table(backing, e);
            } catch (IOException e) {
                throw Failures.input("backing", backing, e);
            }
            SecretFs fs = new SecretFs(directory, ownership, policy);
            // Before the mount, so that a SIGHUP sent once it shows finds the handler (the JVM's own ends it).
            policyFile.ifPresent(file -> reloadOnHangUp(fs, file));
            FuseMount mount;
            boolean kept;
            try {
                if (mounted.isPresent()) {
                    Handover.Inherited from = inherited.get();
                    mount = FuseMount.takeOver(fs, point, mounted.get().mount(), from.fd(), from.state().init(),
                            from.log());
                    fs.forgetCached(); // the kernel's attributes came from the daemon before, and its policy
                    LOG.log(System.Logger.Level.INFO, "took over the mount at {0} from the previous daemon"
                            + " (connection {1}, {2} secrets); nothing was unmounted", mount.mountPoint(),
                            from.state().device(), String.valueOf(directory.size()));
                    kept = true;
                } else {
                    Handover.Log log = Handover.newLog();
                    mount = FuseMount.mount(fs, point, allowOther, log.log());
                    LOG.log(System.Logger.Level.INFO, "mounted {0} secrets from {1} at {2}",
                            String.valueOf(directory.size()), store.describe(), mount.mountPoint());
                    kept = Handover.store(mount, realPath(backing), mount.initRequest().getNow(null), log);
                }
            } catch (MountException e) {
                inherited.ifPresent(i -> Handover.abandon(i, e.getMessage()));
                throw new CliException(CliException.EX_FAILURE, e.getMessage());
            } catch (IOException e) {
                throw new CliException(CliException.EX_FAILURE, "mount point " + point.path() + ": " + e.getMessage());
            }
            SystemdNotify.ready("serving " + directory.size() + " secrets at " + mount.mountPoint());
            onReady.run();

            CompletableFuture.anyOf(stop, mount.loop()).join();
            if (stop.isDone() && kept && ServiceJob.restartQueued()) {
                LOG.log(System.Logger.Level.INFO, "{0}: a restart is queued; handing the mount at {1} over to the"
                        + " next daemon", stop.join(), mount.mountPoint());
                SystemdNotify.stopping();
                mount.handOver();
            } else if (stop.isDone()) {
                LOG.log(System.Logger.Level.INFO, "{0}: unmounting {1}", stop.join(), mount.mountPoint());
                SystemdNotify.stopping();
                report(mount.unmount(), mount.mountPoint());
                Handover.forget();
            } else {
                LOG.log(System.Logger.Level.WARNING, "{0} was unmounted from outside; exiting", mount.mountPoint());
                mount.unmount();
                Handover.forget();
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "closing {0}: {1}", backing, e.getMessage());
        }
    }

    /**
     * The mount point and mount of a connection handed over, if this daemon may serve it: the same
     * mount point and page as the daemon that stored it, still mounted there. Otherwise the connection
     * is given up (see {@link Handover#abandon}).
     */
    private static Optional<MountPoint.Mounted> takeable(Handover.Inherited inherited, Path mountPoint,
            Path backing) {
        try {
            if (!realPath(backing).equals(inherited.state().backing())) {
                Handover.abandon(inherited, "it serves " + inherited.state().backing() + ", not " + backing);
                return Optional.empty();
            }
            Optional<MountPoint.Mounted> mounted = MountPoint.claimMounted(mountPoint, inherited.state().device());
            if (mounted.isEmpty() || !mounted.get().point().path().equals(inherited.state().mountPoint())) {
                Handover.abandon(inherited, "its mount (" + inherited.state().device() + " at "
                        + inherited.state().mountPoint() + ") is not the one on top at " + mountPoint);
                return Optional.empty();
            }
            return mounted;
        } catch (IOException | RuntimeException e) {
            Handover.abandon(inherited, e.getMessage());
            return Optional.empty();
        }
    }

    private static Path realPath(Path backing) {
        try {
            return backing.toRealPath();
        } catch (IOException e) {
            return backing.toAbsolutePath().normalize();
        }
    }

    private static void report(FuseMount.Unmount outcome, Path where) {
        switch (outcome) {
            case UNMOUNTED -> LOG.log(System.Logger.Level.INFO, "unmounted {0}", where);
            case GONE -> LOG.log(System.Logger.Level.WARNING, "{0} was already unmounted by someone else", where);
            case COVERED -> LOG.log(System.Logger.Level.WARNING, "did not unmount {0}: another mount covers ours",
                    where);
            case FAILED -> LOG.log(System.Logger.Level.WARNING, "could not unmount {0}", where);
        }
    }

    /**
     * Refuses to go on if a hardening guard failed, unless the operator accepts the risk; then each
     * failure is logged as a warning.
     */
    static void harden(boolean allowWeakHardening) throws CliException {
        List<String> failed = Hardening.apply();
        if (failed.isEmpty()) {
            return;
        }
        if (!allowWeakHardening) {
            throw new CliException(CliException.EX_FAILURE, "refusing to serve secrets: " + String.join("; ", failed)
                    + " (--allow-weak-hardening serves them anyway)");
        }
        for (String failure : failed) {
            LOG.log(System.Logger.Level.WARNING, "{0}; serving anyway (--allow-weak-hardening)", failure);
        }
    }

    /** The soft RLIMIT_NOFILE, read without a native call: too few descriptors can stop native libraries loading. */
    static long openFileLimit() throws CliException {
        try {
            for (String line : Files.readAllLines(LIMITS)) {
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new CliException(CliException.EX_FAILURE, "cannot read the open-file limit from " + LIMITS + ": "
                    + e.getMessage());
        }
        return Long.MAX_VALUE;
    }

    static void requireOpenFiles(long limit) throws CliException {
        if (limit < MIN_OPEN_FILES) {
            throw new CliException(CliException.EX_FAILURE, "the open-file limit (RLIMIT_NOFILE) is " + limit
                    + "; the daemon needs at least " + MIN_OPEN_FILES + " (ulimit -n, LimitNOFILE=)");
        }
    }

    /** The policy in force at start: none without a file; a bad one stops the daemon before it mounts. */
    private static Policy loadPolicy(Optional<PolicyFile> policyFile) throws CliException {
        if (policyFile.isEmpty()) {
            return Policy.none();
        }
        try {
            return policyFile.get().load(new SystemAccounts());
        } catch (PolicyException e) {
            throw new CliException(e.exitCode(), e.getMessage());
        }
    }

    /**
     * From now on SIGHUP reloads the policy from {@code file} (systemd's ExecReload). Without a policy
     * file SIGHUP keeps the JVM's default: the daemon ends, as it always has.
     */
    private static void reloadOnHangUp(SecretFs fs, PolicyFile file) {
        // A daemon started under nohup (or by anything else that ignores SIGHUP) inherits SIGHUP
        // ignored, and the JVM then installs no handler for it, silently: the reload would never
        // come. Its default is restored first; the handler replaces it at once.
        Native.libc().resetSignal(SIGHUP);
        try {
            Signal.handle(new Signal("HUP"), s -> reload(fs, file));
        } catch (IllegalArgumentException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot handle SIGHUP, so the policy cannot be reloaded: {0}",
                    e.getMessage());
        }
    }

    /**
     * Reads {@code file} again, as at start: if it is good it replaces the policy in force at once
     * (new owners, modes and links show without a remount); if not, the policy in force stays and a
     * warning says what is wrong where. One reload at a time: each signal runs on a thread of its own.
     */
    static synchronized void reload(SecretFs fs, PolicyFile file) {
        Policy policy;
        try {
            policy = file.load(new SystemAccounts());
        } catch (PolicyException e) {
            LOG.log(System.Logger.Level.WARNING, "SIGHUP: {0}; the policy in force stays", e.getMessage());
            return;
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "SIGHUP: reading {0} failed: {1}; the policy in force stays",
                    file.path(), String.valueOf(e));
            return;
        }
        fs.reload(policy);
        if (policy.source().isPresent()) {
            LOG.log(System.Logger.Level.INFO, "policy reloaded from {0}", file.path());
        } else {
            LOG.log(System.Logger.Level.INFO, "policy {0} is absent: no policy in force (reloaded)", file.path());
        }
    }

    /** One daemon per page: an exclusive lock on the backing, held until the daemon ends. */
    private static ExclusiveLock lockBacking(Path backing) throws CliException {
        try {
            return ExclusiveLock.tryLock(backing, false).orElseThrow(() -> new CliException(CliException.EX_FAILURE,
                    "backing " + backing + " is already served by another coco-secretfs daemon"));
        } catch (NoSuchFileException e) {
            throw Failures.input("backing", backing, new NoSuchFileException(backing.toString(), null,
                    "no such file or device"));
        } catch (IOException e) {
            throw Failures.input("backing", backing, e);
        }
    }

    private static BackingStore open(Path backing) throws CliException {
        try {
            return Stores.open(backing);
        } catch (IOException e) {
            throw Failures.input("backing", backing, e);
        }
    }
}
