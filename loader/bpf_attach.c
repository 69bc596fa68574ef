#include "bpf_attach.h"
