// SPDX-License-Identifier: Apache-2.0
package dev.cocosecretfs.store;

import java.io.IOException;
import java.nio.file.Path;

/** A page held in a regular file, as made by {@code coco-secretfs pack}: wipes reach the disk on sync. */
public final class FileStore extends FdStore {

    FileStore(Path path) throws IOException {
        super(path);
    }

    @Override
    public void sync() throws IOException {
        fdatasync();
    }
}
