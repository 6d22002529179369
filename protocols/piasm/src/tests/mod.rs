mod packet;
mod sim;
mod tree;
mod tshark;
