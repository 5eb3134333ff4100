// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.cli;

import dev.cocosecretfs.fuse.FuseMount;
import dev.cocosecretfs.fuse.MountException;
import dev.cocosecretfs.fuse.Ownership;
import dev.cocosecretfs.fuse.SecretFs;
import dev.cocosecretfs.platform.Hardening;
import dev.cocosecretfs.platform.SystemdNotify;
import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import dev.cocosecretfs.table.TableFormatException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import sun.misc.Signal;

/** Serves one mount in the foreground until SIGTERM or SIGINT, then unmounts. */
final class Daemon {
    private static final System.Logger LOG = System.getLogger(Daemon.class.getName());

    private Daemon() {}

    /**
     * Mounts the secrets of {@code backing} at {@code mountPoint} and serves them until a signal asks to
     * stop or somebody else unmounts. {@code onReady} runs once the mount is live.
     */
    static void serve(Path backing, Path mountPoint, Ownership ownership, boolean allowOther, Runnable onReady)
            throws CliException {
        CompletableFuture<String> stop = new CompletableFuture<>();
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                Signal.handle(new Signal(name), s -> stop.complete("SIG" + s.getName()));
            } catch (IllegalArgumentException e) {
                LOG.log(System.Logger.Level.DEBUG, "cannot handle SIG{0}: {1}", name, e.getMessage());
            }
        }
        Hardening.apply();
        try (BackingStore store = open(backing)) {
            SecretDirectory directory;
            try {
                directory = SecretDirectory.open(store);
            } catch (TableFormatException e) {
                throw Failures.table(backing, e);
            } catch (IOException e) {
                throw Failures.input("backing", backing, e);
            }
            SecretFs fs = new SecretFs(directory, ownership);
            FuseMount mount;
            try {
                mount = FuseMount.mount(fs, mountPoint, allowOther);
            } catch (MountException e) {
                throw new CliException(CliException.EX_FAILURE, e.getMessage());
            } catch (IOException e) {
                throw new CliException(CliException.EX_FAILURE, "mount point " + mountPoint + ": " + e.getMessage());
            }
            LOG.log(System.Logger.Level.INFO, "mounted {0} secrets from {1} at {2}", String.valueOf(directory.size()),
                    store.describe(), mount.mountPoint());
            SystemdNotify.ready("mounted " + directory.size() + " secrets at " + mount.mountPoint());
            onReady.run();

            CompletableFuture.anyOf(stop, mount.loop()).join();
            if (stop.isDone()) {
                LOG.log(System.Logger.Level.INFO, "{0}: unmounting {1}", stop.join(), mount.mountPoint());
                SystemdNotify.stopping();
                mount.unmount();
                LOG.log(System.Logger.Level.INFO, "unmounted {0}", mount.mountPoint());
            } else {
                LOG.log(System.Logger.Level.WARNING, "{0} was unmounted from outside; exiting", mount.mountPoint());
                mount.unmount();
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "closing {0}: {1}", backing, e.getMessage());
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
