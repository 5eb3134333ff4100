// SPDX-License-Identifier: GPL-2.0-only
/*
 * coco_secret_shim - the confidential-computing secret page as a character device
 *
 * A confidential VM receives its secrets from the guest owner in one small area of
 * guest memory (the "secret area", a table of GUID-named entries written before the
 * guest runs). This module hands that area to user space, byte for byte, as
 * /dev/coco_secret. It does not look inside: the table is parsed and served by the
 * user space daemon (coco-secretfs). The module never parses, never forges, and
 * only ever lets bytes be erased.
 *
 * Where the area comes from, first match wins:
 *
 *   1. the module parameters phys_addr= and size= (both page aligned), for an area
 *      reserved by the kernel command line (memmap=SIZE$ADDR), the bootloader or the
 *      device tree:
 *
 *        modprobe coco_secret_shim phys_addr=0x10000000 size=4096
 *
 *   2. the EFI configuration table entry for the confidential-computing secret area
 *      (efi.coco_secret, filled by kernels built with CONFIG_EFI_COCO_SECRET). It
 *      points at two little-endian u64:
 *
 *        offset  size  field
 *        0       8     base_pa  physical address of the area, must not be 0
 *        8       8     size     size of the area in bytes, at least 20
 *
 *      Where memory encryption is active (SEV) the area is mapped encrypted.
 *
 *   3. neither: the module refuses to load (-ENODEV) and says so in one log line.
 *
 * The device, /dev/coco_secret (mode 0600, root only):
 *
 *   read(2), pread(2)  any range of the area; a read that runs past the end is
 *                      short, a read starting at or after the end returns 0.
 *   lseek(2)           SEEK_SET, SEEK_CUR and SEEK_END; SEEK_END is relative to the
 *                      size of the area, so lseek(fd, 0, SEEK_END) returns it.
 *   write(2), pwrite(2)
 *                      erase only. Every byte of the buffer that would land inside
 *                      the area must be zero: those zeros are written and the CPU
 *                      cache lines they touch are flushed to memory (clflush on
 *                      x86). If any such byte is non-zero the call fails with EPERM
 *                      and nothing is written. A write that runs past the end is
 *                      short; one starting at or after the end fails with ENOSPC.
 *                      To wipe bytes 40..71 of the area:
 *
 *                        static const char zeros[32];
 *                        pwrite(fd, zeros, sizeof(zeros), 40);
 *
 *   mmap(2)            not supported (ENODEV).
 *
 * The size of the area in bytes, in decimal, is also readable by anyone from
 * /sys/class/misc/coco_secret/size.
 *
 * Unloading the module changes nothing in the area: what was not erased is still
 * there for the next load.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cc_platform.h>
#include <linux/device.h>
#include <linux/efi.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#ifdef CONFIG_X86
#include <asm/cacheflush.h>
#endif

/* The smallest area that can hold a table header: a 16-byte GUID and a u32 length. */
#define COCO_SECRET_MIN_SIZE	20

static unsigned long long coco_secret_phys_addr;
module_param_hw_named(phys_addr, coco_secret_phys_addr, ullong, iomem, 0400);
MODULE_PARM_DESC(phys_addr,
		 "Physical address of a reserved secret area (page aligned); if unset, the EFI table is used");

static unsigned long coco_secret_param_size;
module_param_hw_named(size, coco_secret_param_size, ulong, other, 0400);
MODULE_PARM_DESC(size, "Size in bytes of the area at phys_addr (page aligned, required with phys_addr)");

/* The area, set once at load and constant until unload. */
static phys_addr_t coco_secret_base_pa;
static size_t coco_secret_size;
static void *coco_secret_area;

/* Serialises readers against erasers: a read sees a range before or after an erase. */
static DEFINE_MUTEX(coco_secret_lock);

static ssize_t coco_secret_read(struct file *file, char __user *buf, size_t count,
				loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&coco_secret_lock);
	ret = simple_read_from_buffer(buf, count, ppos, coco_secret_area, coco_secret_size);
	mutex_unlock(&coco_secret_lock);
	return ret;
}

/* Push erased bytes out of the CPU caches so that the zeros reach memory now. */
static void coco_secret_flush(void *addr, size_t len)
{
#ifdef CONFIG_X86
	/* clflush_cache_range() takes an unsigned int length. */
	while (len) {
		unsigned int chunk = min_t(size_t, len, SZ_1G);

		clflush_cache_range(addr, chunk);
		addr += chunk;
		len -= chunk;
	}
#endif
}

static ssize_t coco_secret_write(struct file *file, const char __user *buf, size_t count,
				 loff_t *ppos)
{
	loff_t pos = *ppos;
	size_t len;
	int zeroed;

	if (pos < 0)
		return -EINVAL;
	if (!count)
		return 0;
	if (pos >= coco_secret_size)
		return -ENOSPC;

	len = min_t(size_t, count, coco_secret_size - pos);
	zeroed = check_zeroed_user(buf, len);
	if (zeroed < 0)
		return zeroed;
	if (!zeroed)
		return -EPERM;

	/*
	 * The zeros are our own, not copied from the caller: a buffer changed after
	 * the check above cannot smuggle anything in.
	 */
	mutex_lock(&coco_secret_lock);
	memzero_explicit(coco_secret_area + pos, len);
	coco_secret_flush(coco_secret_area + pos, len);
	mutex_unlock(&coco_secret_lock);

	*ppos = pos + len;
	return len;
}

static loff_t coco_secret_llseek(struct file *file, loff_t offset, int whence)
{
	return generic_file_llseek_size(file, offset, whence, MAX_LFS_FILESIZE,
					coco_secret_size);
}

static const struct file_operations coco_secret_fops = {
	.owner		= THIS_MODULE,
	.llseek		= coco_secret_llseek,
	.read		= coco_secret_read,
	.write		= coco_secret_write,
};

static ssize_t coco_secret_size_show(struct device *dev, struct device_attribute *attr,
				     char *buf)
{
	return sysfs_emit(buf, "%zu\n", coco_secret_size);
}

static struct device_attribute coco_secret_dev_attr_size =
	__ATTR(size, 0444, coco_secret_size_show, NULL);

static struct attribute *coco_secret_attrs[] = {
	&coco_secret_dev_attr_size.attr,
	NULL,
};
ATTRIBUTE_GROUPS(coco_secret);

static struct miscdevice coco_secret_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "coco_secret",
	.fops	= &coco_secret_fops,
	.groups	= coco_secret_groups,
	.mode	= 0600,
};

/* Accept [addr, addr + len) only if it neither wraps nor loses bits in the kernel's types. */
static int coco_secret_set_range(u64 addr, u64 len, phys_addr_t *base_pa, size_t *size)
{
	*base_pa = addr;
	*size = len;
	if (addr + len < addr || *base_pa != addr || *size != len) {
		pr_err("area %#llx+%#llx does not fit the address space\n", addr, len);
		return -EINVAL;
	}
	return 0;
}

static int coco_secret_from_params(phys_addr_t *base_pa, size_t *size)
{
	u64 addr = coco_secret_phys_addr;
	u64 len = coco_secret_param_size;

	if (!addr || !len) {
		pr_err("phys_addr= and size= must be given together and be non-zero\n");
		return -EINVAL;
	}
	if (!PAGE_ALIGNED(addr) || !PAGE_ALIGNED(len)) {
		pr_err("phys_addr=%#llx size=%#llx: both must be multiples of %lu\n",
		       addr, len, PAGE_SIZE);
		return -EINVAL;
	}
	return coco_secret_set_range(addr, len, base_pa, size);
}

#ifdef CONFIG_EFI
static int coco_secret_from_efi(phys_addr_t *base_pa, size_t *size)
{
	struct linux_efi_coco_secret_area *table;
	u64 addr, len;

	if (efi.coco_secret == EFI_INVALID_TABLE_ADDR || !efi.coco_secret)
		return -ENODEV;

	table = memremap(efi.coco_secret, sizeof(*table), MEMREMAP_WB);
	if (!table) {
		pr_err("cannot map the EFI secret area table at %#lx\n", efi.coco_secret);
		return -ENOMEM;
	}
	addr = table->base_pa;
	len = table->size;
	memunmap(table);

	if (!addr || len < COCO_SECRET_MIN_SIZE) {
		pr_err("EFI secret area table is invalid: base_pa=%#llx size=%llu (need base_pa != 0, size >= %d)\n",
		       addr, len, COCO_SECRET_MIN_SIZE);
		return -EINVAL;
	}
	return coco_secret_set_range(addr, len, base_pa, size);
}
#else
static int coco_secret_from_efi(phys_addr_t *base_pa, size_t *size)
{
	return -ENODEV;
}
#endif

/*
 * The area is reserved memory, not RAM the kernel hands out. Under SEV the guest
 * owner's secrets are in encrypted memory, which a plain mapping of reserved memory
 * would read as ciphertext: map it encrypted, as efi_secret does.
 */
static void *coco_secret_map(phys_addr_t base_pa, size_t size)
{
#ifdef CONFIG_X86
	if (cc_platform_has(CC_ATTR_MEM_ENCRYPT))
		return (void __force *)ioremap_encrypted(base_pa, size);
#endif
	return memremap(base_pa, size, MEMREMAP_WB);
}

static int __init coco_secret_init(void)
{
	const char *source;
	int ret;

	if (coco_secret_phys_addr || coco_secret_param_size) {
		source = "module parameters";
		ret = coco_secret_from_params(&coco_secret_base_pa, &coco_secret_size);
	} else {
		source = "EFI table";
		ret = coco_secret_from_efi(&coco_secret_base_pa, &coco_secret_size);
		if (ret == -ENODEV)
			pr_err("no secret area: give phys_addr= and size=, or boot with an EFI secret area table\n");
	}
	if (ret)
		return ret;

	/* Mapping RAM in use by the kernel would hand out arbitrary memory. */
	if (region_intersects(coco_secret_base_pa, coco_secret_size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("area %pa+%#zx overlaps System RAM; reserve it first (e.g. memmap=%zuK$%pa)\n",
		       &coco_secret_base_pa, coco_secret_size, coco_secret_size / SZ_1K,
		       &coco_secret_base_pa);
		return -EINVAL;
	}

	if (!request_mem_region(coco_secret_base_pa, coco_secret_size, KBUILD_MODNAME)) {
		pr_err("area %pa+%#zx is already claimed by another driver\n",
		       &coco_secret_base_pa, coco_secret_size);
		return -EBUSY;
	}

	coco_secret_area = coco_secret_map(coco_secret_base_pa, coco_secret_size);
	if (!coco_secret_area) {
		pr_err("cannot map area %pa+%#zx\n", &coco_secret_base_pa, coco_secret_size);
		ret = -ENOMEM;
		goto err_release_region;
	}

	ret = misc_register(&coco_secret_misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", coco_secret_misc.name, ret);
		goto err_unmap;
	}

	pr_info("%zu bytes at %pa from %s as /dev/%s\n", coco_secret_size,
		&coco_secret_base_pa, source, coco_secret_misc.name);
	return 0;

err_unmap:
	memunmap(coco_secret_area);
err_release_region:
	release_mem_region(coco_secret_base_pa, coco_secret_size);
	return ret;
}

static void __exit coco_secret_exit(void)
{
	/* Deliberately no wipe: what was not erased stays for the next load. */
	misc_deregister(&coco_secret_misc);
	memunmap(coco_secret_area);
	release_mem_region(coco_secret_base_pa, coco_secret_size);
}

module_init(coco_secret_init);
module_exit(coco_secret_exit);

MODULE_DESCRIPTION("Raw access to the confidential-computing secret area as /dev/coco_secret");
MODULE_LICENSE("GPL");
