mod packet;
mod sim;
mod tree;
