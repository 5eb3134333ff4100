// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.store;

import java.nio.file.Path;

/**
 * The secret area exported by the kernel shim as {@code /dev/coco_secret}: a character device whose
 * number is the one the kernel gave the shim's misc device ({@link ShimDevice}); any other device is
 * a {@link FileStore} or refused. Its size is the device's end (the shim supports SEEK_END). The shim
 * flushes the cache lines of every wipe to memory before its write returns, so there is nothing left
 * for {@link #sync()} to do.
 */
public final class DeviceStore extends FdStore {

    /** Where the kernel shim puts the device. */
    public static final Path DEFAULT_PATH = Path.of("/dev/coco_secret");

    DeviceStore(Path path, Descriptor d) {
        super(path, d);
    }

    @Override
    public void sync() {
        // The shim's write already flushed the zeroed lines; fdatasync on a char device is EINVAL.
    }
}
