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
 * Where the area comes from, first match wins; one line at load names it:
 *
 *   1. the module parameters phys_addr= and size= (both page aligned), for an area
 *      reserved by the kernel command line (memmap=SIZE$ADDR), the bootloader or the
 *      device tree:
 *
 *        modprobe coco_secret_shim phys_addr=0x10000000 size=4096
 *
 *   2. efi.coco_secret, the location of the confidential-computing secret area that
 *      kernels built with CONFIG_EFI_COCO_SECRET take from the EFI configuration
 *      table at boot.
 *
 *   3. otherwise (on x86-64) the module looks up that same configuration table
 *      entry itself (GUID adf956ad-e98c-484c-ae11-b51c7d336447,
 *      LINUX_EFI_COCO_SECRET_AREA_GUID).
 *      This is the route on Debian 12, whose kernel is built without
 *      CONFIG_EFI_COCO_SECRET and exports neither the configuration table nor the
 *      system table's address to modules. What it does export is efi.memmap, which
 *      after boot holds the runtime regions with their physical and virtual
 *      addresses, and efi.runtime. The EFI system table lives in runtime-services
 *      data, so the module scans those regions, 8 bytes at a time, for a system
 *      table that is valid: signature "IBI SYST", a header of at least 120 bytes
 *      inside the region, a runtime services pointer equal to efi.runtime, and a
 *      correct header CRC32. It insists on exactly one. SetVirtualAddressMap has
 *      made that table's pointer to the configuration table virtual: it is turned
 *      back into a physical address through efi.memmap. The entries' own pointers
 *      stay physical. Nothing to configure.
 *
 *   The configuration table entry points at the location of the area, two
 *   little-endian u64:
 *
 *        offset  size  field
 *        0       8     base_pa  physical address of the area, must not be 0
 *        8       8     size     size of the area in bytes, at least 20
 *
 *   Firmware (OVMF's AmdSev build) reserves the area as EfiReservedMemoryType and,
 *   since edk2-stable202302, keeps this location in EfiACPIReclaimMemory: neither is
 *   ever System RAM to Linux. Where memory encryption is active (SEV) the area is
 *   mapped encrypted.
 *
 * The module refuses to load, with one log line that says why and what to do, when:
 *
 *   - no area is found at all, e.g. the machine did not boot through EFI or its
 *     configuration table has no such entry: -ENODEV, at notice level, since a
 *     machine with no secrets is no error;
 *   - the kernel keeps no EFI memory map at run time (efi=noruntime, or 32-bit
 *     firmware under a 64-bit kernel), so the table cannot be found: -ENODEV; give
 *     phys_addr= and size= instead;
 *   - the location or the area lies in System RAM: -EINVAL. OVMF before
 *     edk2-stable202302 kept the location in boot-services memory and before
 *     edk2-stable202202 the area itself; Linux reuses that memory after boot, so
 *     by the time the module loads it holds zeros or someone else's data;
 *   - the location says base_pa 0 or a size below 20: -EINVAL;
 *   - another driver (efi_secret) has claimed the area: -EBUSY.
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
#include <linux/crc32.h>
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
/*
 * Reads the location (base_pa, size) at @loc_pa. It must not be System RAM: there
 * it would be memory that Linux has handed out again since the firmware wrote it.
 */
static int coco_secret_from_location(phys_addr_t loc_pa, phys_addr_t *base_pa,
				     size_t *size)
{
	struct linux_efi_coco_secret_area *loc;
	u64 addr, len;

	if (region_intersects(loc_pa, sizeof(*loc), IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("the EFI secret area's location at %pa is in System RAM, reused since boot (OVMF before edk2-stable202302 keeps it in boot-services memory): update the firmware, or give phys_addr= and size=\n",
		       &loc_pa);
		return -EINVAL;
	}

	loc = memremap(loc_pa, sizeof(*loc), MEMREMAP_WB);
	if (!loc) {
		pr_err("cannot map the EFI secret area's location at %pa\n", &loc_pa);
		return -ENOMEM;
	}
	addr = loc->base_pa;
	len = loc->size;
	memunmap(loc);

	if (!addr || len < COCO_SECRET_MIN_SIZE) {
		pr_err("the EFI secret area's location at %pa is invalid: base_pa=%#llx size=%llu (need base_pa != 0, size >= %d); fix the firmware, or give phys_addr= and size=\n",
		       &loc_pa, addr, len, COCO_SECRET_MIN_SIZE);
		return -EINVAL;
	}
	return coco_secret_set_range(addr, len, base_pa, size);
}
#endif

#if defined(CONFIG_EFI) && defined(CONFIG_X86_64)
static u64 coco_secret_md_size(const efi_memory_desc_t *md)
{
	return md->num_pages << EFI_PAGE_SHIFT;
}

/* The table header's CRC32, computed as the firmware does: with the crc32 field zero. */
static u32 coco_secret_hdr_crc(const efi_table_hdr_t *hdr)
{
	static const u8 zero[sizeof(hdr->crc32)];
	const u8 *p = (const u8 *)hdr;
	size_t rest = offsetofend(efi_table_hdr_t, crc32);
	u32 crc;

	crc = crc32_le(~0, p, offsetof(efi_table_hdr_t, crc32));
	crc = crc32_le(crc, zero, sizeof(zero));
	crc = crc32_le(crc, p + rest, hdr->headersize - rest);
	return ~crc;
}

/*
 * Counts the valid EFI system tables in one runtime-services data region, and
 * keeps the configuration table pointer and count of the last one.
 */
static int coco_secret_scan_region(const efi_memory_desc_t *md, u64 *tables, u32 *nr,
				   unsigned int *found)
{
	u64 len = coco_secret_md_size(md);
	const efi_system_table_64_t *st;
	void *map;
	u64 off;

	if (len < sizeof(*st))
		return 0;
	map = memremap(md->phys_addr, len, MEMREMAP_WB);
	if (!map) {
		pr_err("cannot map EFI runtime data at %#llx+%#llx\n", md->phys_addr, len);
		return -ENOMEM;
	}
	for (off = 0; off <= len - sizeof(*st); off += sizeof(u64)) {
		st = map + off;
		if (st->hdr.signature != EFI_SYSTEM_TABLE_SIGNATURE ||
		    st->hdr.headersize < sizeof(*st) || st->hdr.headersize > len - off ||
		    st->runtime != (u64)(unsigned long)efi.runtime ||
		    coco_secret_hdr_crc(&st->hdr) != st->hdr.crc32)
			continue;
		*tables = st->tables;
		*nr = st->nr_tables;
		(*found)++;
	}
	memunmap(map);
	return 0;
}

/* The physical address of [va, va + len), which must lie in one runtime region. */
static int coco_secret_virt_to_phys(u64 va, u64 len, phys_addr_t *pa)
{
	const efi_memory_desc_t *md;

	for_each_efi_memory_desc(md) {
		u64 size = coco_secret_md_size(md);

		if (va >= md->virt_addr && va - md->virt_addr < size &&
		    len <= size - (va - md->virt_addr)) {
			*pa = md->phys_addr + (va - md->virt_addr);
			return 0;
		}
	}
	return -ENOENT;
}

/* Finds the secret area's entry in the EFI configuration table: its location's address. */
static int coco_secret_find_location(phys_addr_t *loc_pa)
{
	efi_guid_t guid = LINUX_EFI_COCO_SECRET_AREA_GUID;
	const efi_config_table_64_t *ct;
	const efi_memory_desc_t *md;
	unsigned int found = 0;
	phys_addr_t ct_pa;
	u64 tables = 0;
	u32 nr = 0, i;
	int ret;

	if (!efi_enabled(EFI_BOOT)) {
		pr_notice("no secret area: the machine did not boot through EFI; for an area reserved otherwise, give phys_addr= and size=\n");
		return -ENODEV;
	}
	if (!efi_enabled(EFI_MEMMAP) || !efi.memmap.map || !efi_enabled(EFI_64BIT)) {
		pr_err("no EFI memory map at run time (efi=noruntime?), so the EFI secret area cannot be found: give phys_addr= and size=\n");
		return -ENODEV;
	}

	for_each_efi_memory_desc(md) {
		if (md->type != EFI_RUNTIME_SERVICES_DATA)
			continue;
		ret = coco_secret_scan_region(md, &tables, &nr, &found);
		if (ret)
			return ret;
	}
	if (found != 1) {
		pr_err("found %u EFI system tables in runtime memory, need exactly 1: give phys_addr= and size=\n",
		       found);
		return -ENODEV;
	}
	if (coco_secret_virt_to_phys(tables, (u64)nr * sizeof(*ct), &ct_pa)) {
		pr_err("the EFI configuration table (%u entries at %#llx) is in no runtime region: give phys_addr= and size=\n",
		       nr, tables);
		return -ENODEV;
	}
	if (!nr) {
		pr_notice("no secret area: the EFI configuration table is empty\n");
		return -ENODEV;
	}

	ct = memremap(ct_pa, (size_t)nr * sizeof(*ct), MEMREMAP_WB);
	if (!ct) {
		pr_err("cannot map the EFI configuration table at %pa\n", &ct_pa);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		if (!efi_guidcmp(ct[i].guid, guid))
			break;
	}
	if (i < nr)
		*loc_pa = ct[i].table;
	memunmap((void *)ct);
	if (i == nr) {
		pr_notice("no secret area: none of the %u EFI configuration table entries is %pUl\n",
			  nr, &guid);
		return -ENODEV;
	}
	return 0;
}
#else
static int coco_secret_find_location(phys_addr_t *loc_pa)
{
	pr_notice("no secret area: give phys_addr= and size= (no EFI table lookup on this architecture)\n");
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

/* Where the area was found, for the load line. */
static char coco_secret_origin[128];

/* The area's address and size, first match wins (see the top of this file). */
static int coco_secret_locate(phys_addr_t *base_pa, size_t *size)
{
#ifdef CONFIG_EFI
	phys_addr_t loc_pa;
	const char *how;
	int ret;
#endif

	if (coco_secret_phys_addr || coco_secret_param_size) {
		strscpy(coco_secret_origin, "module parameters", sizeof(coco_secret_origin));
		return coco_secret_from_params(base_pa, size);
	}
#ifdef CONFIG_EFI
	if (efi.coco_secret != EFI_INVALID_TABLE_ADDR && efi.coco_secret) {
		loc_pa = efi.coco_secret;
		how = "efi.coco_secret";
	} else {
		ret = coco_secret_find_location(&loc_pa);
		if (ret)
			return ret;
		how = "the EFI system table in runtime memory";
	}
	snprintf(coco_secret_origin, sizeof(coco_secret_origin),
		 "the EFI configuration table (location at %pa, via %s)", &loc_pa, how);
	return coco_secret_from_location(loc_pa, base_pa, size);
#else
	pr_notice("no secret area: give phys_addr= and size= (this kernel has no EFI)\n");
	return -ENODEV;
#endif
}

static int __init coco_secret_init(void)
{
	int ret;

	ret = coco_secret_locate(&coco_secret_base_pa, &coco_secret_size);
	if (ret)
		return ret;

	/* Mapping RAM in use by the kernel would hand out arbitrary memory. */
	if (region_intersects(coco_secret_base_pa, coco_secret_size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		if (coco_secret_phys_addr)
			pr_err("area %pa+%#zx overlaps System RAM; reserve it first (e.g. memmap=%zuK$%pa)\n",
			       &coco_secret_base_pa, coco_secret_size,
			       coco_secret_size / SZ_1K, &coco_secret_base_pa);
		else
			pr_err("area %pa+%#zx from %s overlaps System RAM, reused since boot (OVMF before edk2-stable202202 keeps it in boot-services memory): update the firmware\n",
			       &coco_secret_base_pa, coco_secret_size, coco_secret_origin);
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
		&coco_secret_base_pa, coco_secret_origin, coco_secret_misc.name);
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
