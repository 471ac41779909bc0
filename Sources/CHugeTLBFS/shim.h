/* Debian's hugetlbfs.h (libhugetlbfs-dev) uses size_t without including <stddef.h>. */
#include <stddef.h>
#include <hugetlbfs.h>
