// SPDX-License-Identifier: Apache-2.0
/*
 * coco-efi - publishes a secret area the way OVMF's AmdSev firmware does, then boots
 * Linux. A UEFI application (gnu-efi), run by OVMF as \EFI\BOOT\BOOTX64.EFI from the
 * FAT volume that run.sh builds for each boot of the VM test.
 *
 * From that volume it reads:
 *
 *   \coco\page.bin     the secret page, copied into pages of EfiReservedMemoryType
 *   \coco\cmdline      the kernel's command line, ASCII (initrd=\initrd ...)
 *   \coco\old-layout   if present: the location struct goes into EfiBootServicesData,
 *                      as SecretDxe did before edk2-stable202302 (edk2 bug 4186),
 *                      instead of EfiACPIReclaimMemory
 *   \coco\area-boot-services
 *                      if present: the page goes into EfiBootServicesData, as before
 *                      edk2-stable202202
 *   \coco\tiny-size    if present: the location says size 16, too small for a table
 *   \coco\no-entry     if present: nothing is published (a machine without secrets)
 *
 * then installs the 16-byte location struct { u64 base_pa; u64 size; } as the
 * configuration table entry LINUX_EFI_COCO_SECRET_AREA_GUID and starts \vmlinuz (its
 * EFI stub) with the command line as LoadOptions. It prints one line on the console,
 *
 *   coco-efi: area 0x<base_pa> size <bytes> in <type>, location 0x<address> in <type>
 *
 * (or "coco-efi: no entry"), which run.sh reads to find the area in guest memory. On
 * any failure it says what failed and powers the machine off.
 */
#include <efi.h>
#include <efilib.h>

/* adf956ad-e98c-484c-ae11-b51c7d336447, Linux's LINUX_EFI_COCO_SECRET_AREA_GUID */
static EFI_GUID coco_secret_area_guid = {
	0xadf956ad, 0xe98c, 0x484c, { 0xae, 0x11, 0xb5, 0x1c, 0x7d, 0x33, 0x64, 0x47 }
};

struct coco_location {
	UINT64 base_pa;
	UINT64 size;
};

static void die(const CHAR16 *what, EFI_STATUS status)
{
	Print(L"coco-efi: %s failed: %r\n", what, status);
	uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_ABORTED, 0, NULL);
	for (;;)
		;
}

static BOOLEAN file_exists(EFI_FILE_HANDLE root, CHAR16 *name)
{
	EFI_FILE_HANDLE fh;

	if (EFI_ERROR(uefi_call_wrapper(root->Open, 5, root, &fh, name, EFI_FILE_MODE_READ, 0)))
		return FALSE;
	uefi_call_wrapper(fh->Close, 1, fh);
	return TRUE;
}

/* Opens NAME and returns its size; dies if it cannot. */
static EFI_FILE_HANDLE open_file(EFI_FILE_HANDLE root, CHAR16 *name, UINTN *size)
{
	EFI_FILE_HANDLE fh;
	EFI_FILE_INFO *info;
	EFI_STATUS status;

	status = uefi_call_wrapper(root->Open, 5, root, &fh, name, EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(status))
		die(name, status);
	info = LibFileInfo(fh);
	if (!info)
		die(L"LibFileInfo", EFI_NOT_FOUND);
	*size = info->FileSize;
	FreePool(info);
	return fh;
}

static void read_all(EFI_FILE_HANDLE fh, CHAR16 *name, void *buf, UINTN size)
{
	UINTN got = size;
	EFI_STATUS status;

	status = uefi_call_wrapper(fh->Read, 3, fh, &got, buf);
	if (EFI_ERROR(status))
		die(name, status);
	if (got != size)
		die(name, EFI_END_OF_FILE);
	uefi_call_wrapper(fh->Close, 1, fh);
}

/* The page in EfiReservedMemoryType pages, and its location struct; installs the entry. */
static void publish(EFI_FILE_HANDLE root)
{
	BOOLEAN old = file_exists(root, L"\\coco\\old-layout");
	BOOLEAN area_bs = file_exists(root, L"\\coco\\area-boot-services");
	EFI_MEMORY_TYPE loc_type = old ? EfiBootServicesData : EfiACPIReclaimMemory;
	EFI_MEMORY_TYPE area_type = area_bs ? EfiBootServicesData : EfiReservedMemoryType;
	struct coco_location *loc;
	EFI_PHYSICAL_ADDRESS pa;
	EFI_FILE_HANDLE fh;
	EFI_STATUS status;
	UINTN size, pages;

	fh = open_file(root, L"\\coco\\page.bin", &size);
	if (size < 20)
		die(L"\\coco\\page.bin (at least 20 bytes)", EFI_BAD_BUFFER_SIZE);
	pages = EFI_SIZE_TO_PAGES(size);
	status = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, area_type, pages, &pa);
	if (EFI_ERROR(status))
		die(L"AllocatePages(area)", status);
	ZeroMem((void *)(UINTN)pa, pages * EFI_PAGE_SIZE);
	read_all(fh, L"\\coco\\page.bin", (void *)(UINTN)pa, size);

	status = uefi_call_wrapper(BS->AllocatePool, 3, loc_type, sizeof(*loc), (void **)&loc);
	if (EFI_ERROR(status))
		die(L"AllocatePool(location)", status);
	loc->base_pa = pa;
	loc->size = file_exists(root, L"\\coco\\tiny-size") ? 16 : size;
	status = uefi_call_wrapper(BS->InstallConfigurationTable, 2, &coco_secret_area_guid, loc);
	if (EFI_ERROR(status))
		die(L"InstallConfigurationTable", status);
	Print(L"coco-efi: area 0x%lx size %ld in %s, location 0x%lx in %s\n", pa, loc->size,
	      area_bs ? L"EfiBootServicesData" : L"EfiReservedMemoryType", (UINT64)(UINTN)loc,
	      old ? L"EfiBootServicesData" : L"EfiACPIReclaimMemory");
}

/* \coco\cmdline as UCS-2, NUL-terminated; *bytes is its size, NUL included. */
static CHAR16 *command_line(EFI_FILE_HANDLE root, UINT32 *bytes)
{
	EFI_FILE_HANDLE fh;
	CHAR8 *ascii;
	CHAR16 *wide;
	UINTN size, i;

	fh = open_file(root, L"\\coco\\cmdline", &size);
	ascii = AllocatePool(size + 1);
	wide = AllocatePool((size + 1) * sizeof(CHAR16));
	if (!ascii || !wide)
		die(L"AllocatePool(cmdline)", EFI_OUT_OF_RESOURCES);
	read_all(fh, L"\\coco\\cmdline", ascii, size);
	while (size && (ascii[size - 1] == '\n' || ascii[size - 1] == '\r'))
		size--;
	for (i = 0; i < size; i++)
		wide[i] = ascii[i];
	wide[size] = 0;
	FreePool(ascii);
	*bytes = (size + 1) * sizeof(CHAR16);
	return wide;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	EFI_LOADED_IMAGE *self, *kernel;
	EFI_DEVICE_PATH *path;
	EFI_FILE_HANDLE root;
	EFI_HANDLE kh;
	EFI_STATUS status;
	CHAR16 *options;
	UINT32 options_size;

	InitializeLib(image, systab);
	status = uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol,
				   (void **)&self);
	if (EFI_ERROR(status))
		die(L"HandleProtocol(LoadedImage)", status);
	root = LibOpenRoot(self->DeviceHandle);
	if (!root)
		die(L"LibOpenRoot", EFI_NOT_FOUND);

	if (file_exists(root, L"\\coco\\no-entry"))
		Print(L"coco-efi: no entry\n");
	else
		publish(root);
	options = command_line(root, &options_size);

	path = FileDevicePath(self->DeviceHandle, L"\\vmlinuz");
	if (!path)
		die(L"FileDevicePath(\\vmlinuz)", EFI_OUT_OF_RESOURCES);
	status = uefi_call_wrapper(BS->LoadImage, 6, FALSE, image, path, NULL, 0, &kh);
	if (EFI_ERROR(status))
		die(L"LoadImage(\\vmlinuz)", status);
	status = uefi_call_wrapper(BS->HandleProtocol, 3, kh, &LoadedImageProtocol,
				   (void **)&kernel);
	if (EFI_ERROR(status))
		die(L"HandleProtocol(kernel)", status);
	kernel->LoadOptions = options;
	kernel->LoadOptionsSize = options_size;
	status = uefi_call_wrapper(BS->StartImage, 3, kh, NULL, NULL);
	die(L"StartImage(\\vmlinuz)", status);
	return status;
}
