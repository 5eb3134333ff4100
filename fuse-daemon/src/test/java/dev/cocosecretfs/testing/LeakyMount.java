// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.testing;

import dev.cocosecretfs.platform.Hardening;
import dev.cocosecretfs.secrets.Secret;
import dev.cocosecretfs.secrets.SecretDirectory;
import dev.cocosecretfs.store.BackingStore;
import dev.cocosecretfs.store.Stores;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import jnr.ffi.Pointer;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;

/**
 * The memory scan's positive control, run as a child JVM: the daemon's read path as it was before
 * replies got buffers of their own. Same hardening, same directory and store, same mount options,
 * but {@code read} fills the buffer libfuse mallocs for the request's size, which glibc's tcache
 * keeps unwiped after libfuse frees it. A scan that finds nothing here would prove nothing anywhere.
 *
 * <p>Usage: {@code LeakyMount PAGE MOUNTPOINT}; prints {@code mounted} once the kernel's INIT is in.
 */
public final class LeakyMount extends FuseStubFS {
    private final SecretDirectory directory;
    private final Map<Long, Secret> handles = new ConcurrentHashMap<>();
    private final AtomicLong nextHandle = new AtomicLong(1);

    private LeakyMount(SecretDirectory directory) {
        this.directory = directory;
    }

    public static void main(String[] args) throws Exception {
        Hardening.apply();
        BackingStore store = Stores.open(Path.of(args[0]));
        LeakyMount fs = new LeakyMount(SecretDirectory.open(store));
        fs.mount(Path.of(args[1]), true, false, new String[] {
            "-o", "direct_io", "-o", "default_permissions", "-o", "hard_remove", "-o", "fsname=coco-leaky"});
    }

    @Override
    public Pointer init(Pointer conn) {
        System.out.println("mounted");
        System.out.flush();
        return null;
    }

    private Optional<Secret> lookup(String path) {
        return path.length() > 1 ? directory.lookup(path.substring(1)) : Optional.empty();
    }

    @Override
    public int getattr(String path, FileStat stat) {
        if ("/".equals(path)) {
            stat.st_mode.set(FileStat.S_IFDIR | 0755);
            stat.st_nlink.set(2);
            return 0;
        }
        Optional<Secret> secret = lookup(path);
        if (secret.isEmpty()) {
            return -ErrorCodes.ENOENT();
        }
        stat.st_mode.set(FileStat.S_IFREG | 0440);
        stat.st_nlink.set(1);
        stat.st_size.set(secret.get().length());
        return 0;
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, @off_t long offset, FuseFileInfo fi) {
        filler.apply(buf, ".", null, 0);
        filler.apply(buf, "..", null, 0);
        directory.names().forEach(name -> filler.apply(buf, name, null, 0));
        return 0;
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        Optional<Secret> secret = lookup(path);
        if (secret.isEmpty()) {
            return -ErrorCodes.ENOENT();
        }
        long handle = nextHandle.getAndIncrement();
        handles.put(handle, secret.get());
        fi.fh.set(handle);
        return 0;
    }

    @Override
    public int read(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        try {
            return directory.read(handles.get(fi.fh.get()), offset, size, buf.address());
        } catch (Exception e) {
            return -ErrorCodes.EIO();
        }
    }

    @Override
    public int release(String path, FuseFileInfo fi) {
        handles.remove(fi.fh.get());
        return 0;
    }

    @Override
    public int unlink(String path) {
        try {
            directory.wipe(path.substring(1));
            return 0;
        } catch (Exception e) {
            return -ErrorCodes.ENOENT();
        }
    }
}
