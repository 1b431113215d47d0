// Every scenario, by area.
import type { Scenario } from '../scenario';
import dmabuf from './dmabuf';
import files from './files';
import heap from './heap';
import odp from './odp';
import rdma from './rdma';
import rdmacm from './rdmacm';
import syncFile from './sync-file';
import udmabuf from './udmabuf';
import unix from './unix';
import vgem from './vgem';

export const scenarios: Scenario[] = [...files, ...udmabuf, ...heap, ...dmabuf, ...syncFile, ...vgem, ...rdma, ...odp, ...rdmacm, ...unix];
