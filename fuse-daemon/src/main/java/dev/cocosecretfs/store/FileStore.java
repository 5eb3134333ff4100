// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.store;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A page held in a regular file, as made by {@code coco-secretfs pack}, or on a block device (a loop
 * device, a disk partition): wipes reach the disk on sync, which is {@code fdatasync}.
 */
public final class FileStore extends FdStore {

    FileStore(Path path, Descriptor d) {
        super(path, d);
    }

    @Override
    public void sync() throws IOException {
        fdatasync();
    }
}
