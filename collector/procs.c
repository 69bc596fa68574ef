#include "procs.h"
