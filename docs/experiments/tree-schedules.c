// C model of the binomial tree's schedules on one host (docs/performance.md, "Latest"):
// segment sizes, receives posted ahead or not, blocking or nonblocking sends up, and the
// down phase trailing the up phase by a lag, each timed round-robin with MPI_Allreduce in
// one run (median of K calls, slowest rank); prints each variant's time / native.
//   mpicc -O3 -march=native -o /tmp/tree-schedules docs/experiments/tree-schedules.c
//   launch/mpirun-local 8 /tmp/tree-schedules 1248424 15
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int cmpd(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
static int p,r;
static void add(float*d,const float*t,int L){for(int i=0;i<L;i++)d[i]+=t[i];}
static int nchild(void){int lim=r==0?1<<30:(r&-r),m=1,n=0;while(m<lim&&r+m<p){n++;m<<=1;}return n;}
/* seg: floats per segment; ahead: post next segment's receives before adding; down_nb: children's sends nonblocking */
static void tree(float*buf,int n,float*st,int seg,int ahead,int blocking_up){
  MPI_Comm c=MPI_COMM_WORLD;int nc=nchild(),parent=r==0?-1:r-(r&-r);int S=(n+seg-1)/seg;
  MPI_Request rq[2][8],uq[256],dq[2048];int nu=0,nd=0;
  #define SL(cc,k) (st+(((k)%2)*nc+(cc))*seg)
  #define LEN(k) ((k)==S-1? n-(k)*seg : seg)
  if(ahead)for(int cc=0;cc<nc;cc++)MPI_Irecv(SL(cc,0),LEN(0),MPI_FLOAT,r+(1<<cc),1,c,&rq[0][cc]);
  for(int k=0;k<S;k++){
    if(ahead){ if(k+1<S)for(int cc=0;cc<nc;cc++)MPI_Irecv(SL(cc,k+1),LEN(k+1),MPI_FLOAT,r+(1<<cc),1,c,&rq[(k+1)%2][cc]); }
    else for(int cc=0;cc<nc;cc++)MPI_Irecv(SL(cc,k),LEN(k),MPI_FLOAT,r+(1<<cc),1,c,&rq[k%2][cc]);
    for(int cc=0;cc<nc;cc++){MPI_Wait(&rq[k%2][cc],MPI_STATUS_IGNORE);add(buf+k*seg,SL(cc,k),LEN(k));}
    if(parent>=0){ if(blocking_up)MPI_Send(buf+k*seg,LEN(k),MPI_FLOAT,parent,1,c); else MPI_Isend(buf+k*seg,LEN(k),MPI_FLOAT,parent,1,c,&uq[nu++]); }
  }
  MPI_Waitall(nu,uq,MPI_STATUSES_IGNORE);
  for(int k=0;k<S;k++){
    if(parent>=0)MPI_Recv(buf+k*seg,LEN(k),MPI_FLOAT,parent,2,c,MPI_STATUS_IGNORE);
    for(int cc=nc-1;cc>=0;cc--)MPI_Isend(buf+k*seg,LEN(k),MPI_FLOAT,r+(1<<cc),2,c,&dq[nd++]);
  }
  MPI_Waitall(nd,dq,MPI_STATUSES_IGNORE);
}
static void treelag(float*buf,int n,float*st,int seg,int lag){
  MPI_Comm c=MPI_COMM_WORLD;int nc=nchild(),parent=r==0?-1:r-(r&-r);int S=(n+seg-1)/seg;
  MPI_Request rq[2][8],uq[256],dq[2048];int nd=0;
  for(int cc=0;cc<nc;cc++)MPI_Irecv(SL(cc,0),LEN(0),MPI_FLOAT,r+(1<<cc),1,c,&rq[0][cc]);
  for(int step=0;step<S+lag;step++){
    if(step<S){int k=step;
      if(k+1<S)for(int cc=0;cc<nc;cc++)MPI_Irecv(SL(cc,k+1),LEN(k+1),MPI_FLOAT,r+(1<<cc),1,c,&rq[(k+1)%2][cc]);
      for(int cc=0;cc<nc;cc++){MPI_Wait(&rq[k%2][cc],MPI_STATUS_IGNORE);add(buf+k*seg,SL(cc,k),LEN(k));}
      if(parent>=0)MPI_Isend(buf+k*seg,LEN(k),MPI_FLOAT,parent,1,c,&uq[k]);}
    if(step>=lag){int k=step-lag;
      if(parent>=0){MPI_Wait(&uq[k],MPI_STATUS_IGNORE);MPI_Recv(buf+k*seg,LEN(k),MPI_FLOAT,parent,2,c,MPI_STATUS_IGNORE);}
      for(int cc=nc-1;cc>=0;cc--)MPI_Isend(buf+k*seg,LEN(k),MPI_FLOAT,r+(1<<cc),2,c,&dq[nd++]);}
  }
  MPI_Waitall(nd,dq,MPI_STATUSES_IGNORE);
}
#define NV 12
static const char*names[NV]={"native","ours512K","seg128K","seg1M","seg2.5M","whole","ours512K-noahead","512K-blockup","whole-blockup","512K-lag1","1M-lag1","256K-lag2"};
int main(int argc,char**argv){
  MPI_Init(&argc,&argv);MPI_Comm_size(MPI_COMM_WORLD,&p);MPI_Comm_rank(MPI_COMM_WORLD,&r);
  int n=argc>1?atoi(argv[1]):1248424,it=argc>2?atoi(argv[2]):15;
  float*a=malloc((size_t)n*4),*b=malloc((size_t)n*4),*t=malloc((size_t)n*4*2*3+64);
  for(int i=0;i<n;i++)a[i]=(float)((i*7+r)%13);
  static double T[NV][200];
  for(int k=0;k<it+2;k++)for(int m=0;m<NV;m++){int mm=(m+k)%NV;
    memcpy(b,a,(size_t)n*4);MPI_Barrier(MPI_COMM_WORLD);double t0=MPI_Wtime();
    switch(mm){case 0:MPI_Allreduce(MPI_IN_PLACE,b,n,MPI_FLOAT,MPI_SUM,MPI_COMM_WORLD);break;
      case 1:tree(b,n,t,131072,1,0);break; case 2:tree(b,n,t,32768,1,0);break; case 3:tree(b,n,t,262144,1,0);break;
      case 4:tree(b,n,t,655360,1,0);break; case 5:tree(b,n,t,n,1,0);break; case 6:tree(b,n,t,131072,0,0);break;
      case 7:tree(b,n,t,131072,1,1);break; case 8:tree(b,n,t,n,0,1);break; case 9:treelag(b,n,t,131072,1);break; case 10:treelag(b,n,t,262144,1);break; case 11:treelag(b,n,t,65536,2);break;}
    double dt=MPI_Wtime()-t0,mx;MPI_Allreduce(&dt,&mx,1,MPI_DOUBLE,MPI_MAX,MPI_COMM_WORLD);
    if(mm>0){float e=0;for(int i=0;i<n;i+=97){float w=0;for(int q=0;q<p;q++)w+=(float)((i*7+q)%13);float d=b[i]-w;if(d<0)d=-d;if(d>e)e=d;}if(e>1e-3&&r==0)printf("BAD %s\n",names[mm]);}
    if(k>=2)T[mm][k-2]=mx;}
  if(r==0){printf("np %d:",p);for(int m=0;m<NV;m++){qsort(T[m],it,8,cmpd);printf(" %s %.2f",names[m],T[m][it/2]/T[0][it/2]);}printf(" (native %.2f ms)\n",T[0][it/2]*1e3);}
  MPI_Finalize();}
