/*
 * bcryptprimitives.dll for Wine 8.0, which lacks it: Go >= 1.22 binaries import ProcessPrng
 * from it at start and abort without it. Exports ProcessPrng, forwarding to the system RNG
 * through BCryptGenRandom (which Wine has). Test prefixes only: never shipped.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll processprng.c \
 *        processprng.def -lbcrypt
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
