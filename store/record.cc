#include "store/record.h"
